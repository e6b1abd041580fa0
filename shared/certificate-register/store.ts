/**
 * The register's event log: an append-only audit log in InfluxDB (shared/influx/audit-event-log.ts),
 * `certificate_events,cluster=C,certificate=ID,event=E …`. A later event of a certificate is
 * written at least 1 ms after its last one, so its events never overwrite each other and read back
 * in order.
 */
import { AuditEventLog } from '../influx/audit-event-log.js'
import type { InfluxClient } from '../influx/influx-client.js'
import type { CertificateEvent, CertificateEventKind } from './schema.js'

export const CERTIFICATE_EVENTS_MEASUREMENT = 'certificate_events'

export class CertificateEventStore {
  private readonly log: AuditEventLog<CertificateEventKind>

  constructor(influx: InfluxClient, cluster: string) {
    this.log = new AuditEventLog(influx, CERTIFICATE_EVENTS_MEASUREMENT, cluster, 'certificate', '{}')
  }

  /** Every event of the cluster, oldest first; `since` (epoch ms, exclusive) limits it. */
  async read(since?: number): Promise<CertificateEvent[]> {
    return (await this.log.read(since)).map(({ id, ...e }) => ({
      ...e,
      certificate: id,
      values: e.values as CertificateEvent['values'],
      previous: e.previous as CertificateEvent['previous'],
    }))
  }

  /** Writes the events in one request (a file import lands whole or not at all). */
  append(events: readonly CertificateEvent[]): Promise<void> {
    return this.log.append(events.map(({ certificate, ...e }) => ({ ...e, id: certificate })))
  }
}

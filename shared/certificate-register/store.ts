/**
 * The register's event log in InfluxDB, the one database every process of the stack shares
 * (docs/DESIGN.md §4): `certificate_events,cluster=C,certificate=ID,event=E actor=…,reason=…,
 * values=<JSON>,previous=<JSON> <ms>`. Append-only: nothing is updated or deleted; a later event
 * of a certificate is written at least 1 ms after its last one, so its events never overwrite
 * each other and read back in order.
 */
import type { InfluxClient } from '../influx/influx-client.js'
import { quoteIdent, quoteString } from '../influx/influx-client.js'
import { toLine } from '../influx/line-protocol.js'
import type { CertificateEvent, CertificateEventKind } from './schema.js'

export const CERTIFICATE_EVENTS_MEASUREMENT = 'certificate_events'

export class CertificateEventStore {
  constructor(
    private readonly influx: InfluxClient,
    private readonly cluster: string,
  ) {}

  /** Every event of the cluster, oldest first; `since` (epoch ms, exclusive) limits it. */
  async read(since?: number): Promise<CertificateEvent[]> {
    const after = since === undefined ? '' : ` AND time > ${Math.floor(since)}000000`
    const q = `SELECT * FROM ${quoteIdent(CERTIFICATE_EVENTS_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)}${after}`
    const rows = (await this.influx.query(q))[0]?.rows ?? []
    return rows
      .map((r) => ({
        time: Number(r.time),
        certificate: String(r.certificate),
        event: String(r.event) as CertificateEventKind,
        actor: String(r.actor ?? ''),
        reason: String(r.reason ?? ''),
        values: JSON.parse(String(r.values ?? '{}')),
        previous: JSON.parse(String(r.previous ?? '{}')),
      }))
      .sort((a, b) => a.time - b.time)
  }

  /** Writes the events in one request (a file import lands whole or not at all). */
  async append(events: readonly CertificateEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.influx.writeLines(
      events.map((e) =>
        toLine({
          measurement: CERTIFICATE_EVENTS_MEASUREMENT,
          tags: { cluster: this.cluster, certificate: e.certificate, event: e.event },
          fields: {
            actor: e.actor,
            reason: e.reason,
            values: JSON.stringify(e.values),
            previous: JSON.stringify(e.previous),
          },
          time: e.time,
        }),
      ),
    )
  }
}

/**
 * The manual entries' event log: an append-only audit log in InfluxDB
 * (shared/influx/audit-event-log.ts), `manual_events,cluster=C,entry=ID,event=E …`.
 */
import { AuditEventLog } from '../influx/audit-event-log.js'
import type { InfluxClient } from '../influx/influx-client.js'
import type { ManualEvent, ManualEventKind } from './schema.js'

export const MANUAL_EVENTS_MEASUREMENT = 'manual_events'

export class ManualEventStore {
  private readonly log: AuditEventLog<ManualEventKind>

  constructor(influx: InfluxClient, cluster: string) {
    this.log = new AuditEventLog(influx, MANUAL_EVENTS_MEASUREMENT, cluster, 'entry', 'null')
  }

  /** Every event of the cluster, oldest first. */
  async read(): Promise<ManualEvent[]> {
    return (await this.log.read()).map(({ id, ...e }) => ({
      ...e,
      entry: id,
      values: e.values as ManualEvent['values'],
      previous: e.previous as ManualEvent['previous'],
    }))
  }

  /** Writes the events in one request (an import lands whole or not at all). */
  append(events: readonly ManualEvent[]): Promise<void> {
    return this.log.append(events.map(({ entry, ...e }) => ({ ...e, id: entry })))
  }
}

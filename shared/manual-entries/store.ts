/**
 * The manual entries' event log in InfluxDB, the pattern of the certificate register's
 * (shared/certificate-register/store.ts): `manual_events,cluster=C,entry=ID,event=E actor=…,
 * reason=…,values=<JSON>,previous=<JSON> <ms>`. Append-only: nothing is updated or deleted.
 */
import type { InfluxClient } from '../influx/influx-client.js'
import { quoteIdent, quoteString } from '../influx/influx-client.js'
import { toLine } from '../influx/line-protocol.js'
import type { ManualEvent, ManualEventKind } from './schema.js'

export const MANUAL_EVENTS_MEASUREMENT = 'manual_events'

export class ManualEventStore {
  constructor(
    private readonly influx: InfluxClient,
    private readonly cluster: string,
  ) {}

  /** Every event of the cluster, oldest first. */
  async read(): Promise<ManualEvent[]> {
    const q = `SELECT * FROM ${quoteIdent(MANUAL_EVENTS_MEASUREMENT)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)}`
    const rows = (await this.influx.query(q))[0]?.rows ?? []
    return rows
      .map((r) => ({
        time: Number(r.time),
        entry: String(r.entry),
        event: String(r.event) as ManualEventKind,
        actor: String(r.actor ?? ''),
        reason: String(r.reason ?? ''),
        values: JSON.parse(String(r.values ?? 'null')),
        previous: JSON.parse(String(r.previous ?? 'null')),
      }))
      .sort((a, b) => a.time - b.time || a.entry.localeCompare(b.entry))
  }

  /** Writes the events in one request (an import lands whole or not at all). */
  async append(events: readonly ManualEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.influx.writeLines(
      events.map((e) =>
        toLine({
          measurement: MANUAL_EVENTS_MEASUREMENT,
          tags: { cluster: this.cluster, entry: e.entry, event: e.event },
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

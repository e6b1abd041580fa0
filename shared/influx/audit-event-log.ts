/**
 * An append-only audit log in InfluxDB, the one database every process of the stack shares
 * (docs/DESIGN.md §4): `<measurement>,cluster=C,<idTag>=ID,event=E actor=…,reason=…,
 * values=<JSON>,previous=<JSON> <ms>`. Nothing is updated or deleted; each change is an event with
 * who, why, the values it set and the ones it replaced. The certificate register and the manual
 * entries keep their histories in one of these.
 */
import type { InfluxClient } from './influx-client.js'
import { quoteIdent, quoteString } from './influx-client.js'
import { toLine } from './line-protocol.js'

export interface AuditEvent<Kind extends string> {
  time: number
  /** The id of the thing the event changes (a certificate, a manual entry). */
  id: string
  event: Kind
  actor: string
  reason: string
  values: unknown
  previous: unknown
}

export class AuditEventLog<Kind extends string> {
  constructor(
    private readonly influx: InfluxClient,
    private readonly measurement: string,
    private readonly cluster: string,
    /** The tag that holds the event's id. */
    private readonly idTag: string,
    /** What `values`/`previous` read back as when the field is absent. */
    private readonly absentJson: '{}' | 'null',
  ) {}

  /** Every event of the cluster, oldest first (ties by id); `since` (epoch ms, exclusive) limits it. */
  async read(since?: number): Promise<AuditEvent<Kind>[]> {
    const after = since === undefined ? '' : ` AND time > ${Math.floor(since)}000000`
    const q = `SELECT * FROM ${quoteIdent(this.measurement)} WHERE ${quoteIdent('cluster')} = ${quoteString(this.cluster)}${after}`
    const rows = (await this.influx.query(q))[0]?.rows ?? []
    return rows
      .map((r) => ({
        time: Number(r.time),
        id: String(r[this.idTag]),
        event: String(r.event) as Kind,
        actor: String(r.actor ?? ''),
        reason: String(r.reason ?? ''),
        values: JSON.parse(String(r.values ?? this.absentJson)),
        previous: JSON.parse(String(r.previous ?? this.absentJson)),
      }))
      .sort((a, b) => a.time - b.time || a.id.localeCompare(b.id))
  }

  /** Writes the events in one request (a file import lands whole or not at all). */
  async append(events: readonly AuditEvent<Kind>[]): Promise<void> {
    if (events.length === 0) return
    await this.influx.writeLines(
      events.map((e) =>
        toLine({
          measurement: this.measurement,
          tags: { cluster: this.cluster, [this.idTag]: e.id, event: e.event },
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

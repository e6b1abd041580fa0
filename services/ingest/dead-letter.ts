/**
 * Dead letters: every rejected message or reading is kept with its reason in the `deadletter`
 * measurement (docs/DESIGN.md §4), so an operator can see what was refused and why, and nothing is silently
 * dropped. Reason codes are stable; callers and dashboards switch on them.
 */
import { toLine } from '../../shared/influx/line-protocol.js'
import { DEAD_LETTER_MEASUREMENT, type DeadLetterReason } from '../../shared/store-schema.js'

export interface DeadLetter {
  reason: DeadLetterReason
  detail: string
  topic: string
  /** The offending part: the whole payload (truncated) or the one reading/metric. */
  excerpt: string
  /** How many readings or metrics this one record stands for (one record per reading, not per name). */
  count?: number | undefined
  // Tags: only values the site model knows, so a made-up id can never add a series (SECURITY.md).
  cluster?: string | undefined
  plant?: string | undefined
  device?: string | undefined
}

const MAX_EXCERPT = 1024

export function excerptOf(payload: Buffer | string): string {
  const text = typeof payload === 'string' ? payload : payload.subarray(0, MAX_EXCERPT * 2).toString('utf8')
  return text.length > MAX_EXCERPT ? `${text.slice(0, MAX_EXCERPT)}…` : text
}

/**
 * Dead letters are timestamped when received. Two in the same millisecond with the same tags would
 * overwrite each other in InfluxDB (same series and time), so each gets its own nanosecond offset.
 */
export class DeadLetterEncoder {
  private lastMs = 0
  private counter = 0
  // A random start keeps two ingest instances from sharing offsets (docs/DESIGN.md §7: never the only instance).
  private readonly base = Math.floor(Math.random() * 500_000)

  constructor(private readonly now: () => number) {}

  toLine(letter: DeadLetter): string {
    const ms = this.now()
    if (ms !== this.lastMs) {
      this.lastMs = ms
      this.counter = 0
    }
    const nanos = (this.base + this.counter++) % 1_000_000
    return toLine({
      measurement: DEAD_LETTER_MEASUREMENT,
      tags: {
        reason: letter.reason,
        cluster: letter.cluster ?? '',
        plant: letter.plant ?? '',
        device: letter.device ?? '',
      },
      fields: {
        detail: letter.detail,
        topic: letter.topic,
        excerpt: letter.excerpt,
        count: { int: letter.count ?? 1 },
      },
      time: ms,
      nanos,
    })
  }
}

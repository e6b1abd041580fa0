/**
 * The live feed behind SSE: watches the `live` measurement for a newer snapshot (poll every
 * `pollMs`; the rollup service may also call `notify()` in-process, which skips the wait) and hands
 * every subscriber the new snapshot of all plants and the cluster total. One InfluxDB read per
 * update, however many dashboards listen; each subscriber filters by its key's access.
 */
import type { Logger } from '../../shared/logger.js'
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import type { SiteIndex } from '../../shared/site-model.js'
import type { LiveRow, StoreReads } from './store-reads.js'

export interface LiveSnapshot {
  /** Newest `live` time seen (epoch ms), null before any. */
  time: number | null
  rows: LiveRow[]
}

export type LiveListener = (snapshot: LiveSnapshot) => void

export class LiveFeed {
  private readonly listeners = new Set<LiveListener>()
  private timer: NodeJS.Timeout | undefined
  private lastTime: number | null = null
  private snapshot: LiveSnapshot = { time: null, rows: [] }
  private polling: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly options: {
      reads: StoreReads
      site: SiteIndex
      pollMs: number
      log: Logger
      now?: () => number
    },
  ) {}

  get current(): LiveSnapshot {
    return this.snapshot
  }

  get subscribers(): number {
    return this.listeners.size
  }

  /** Starts polling (idempotent); the first poll runs at once. */
  start(): void {
    if (this.timer || this.stopped) return
    this.timer = setInterval(() => this.notify(), this.options.pollMs)
    this.timer.unref()
    this.notify()
  }

  /**
   * Stops polling and waits for a read under way (idempotent): the parts after the API stop next,
   * the embedded InfluxDB among them, and a read left running failed against it and was logged as
   * a warning at every such shutdown.
   */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.listeners.clear()
    await this.polling
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener)
    this.start()
    return () => this.listeners.delete(listener)
  }

  /** Checks for a newer snapshot now (the rollup service's in-process event can call this). */
  notify(): void {
    if (this.polling || this.stopped) return
    this.polling = this.poll()
      .catch((err: unknown) => {
        // Once stopping, nobody waits for the snapshot: not a fault for an operator to act on.
        const level = this.stopped ? 'debug' : 'warn'
        this.options.log[level]({ err: (err as Error).message }, 'live feed: reading the snapshot failed')
      })
      .finally(() => {
        this.polling = undefined
      })
  }

  /** Waits for a poll under way (tests). */
  async settled(): Promise<void> {
    await this.polling
  }

  private async poll(): Promise<void> {
    const now = (this.options.now ?? Date.now)()
    const t = await this.options.reads.latestLiveTime(now)
    if (t === null || t === this.lastTime) return
    const tags = [...this.options.site.model.plants.map((p) => p.id), CLUSTER_TOTAL]
    const rows = await this.options.reads.latestLive(tags, now)
    this.lastTime = t
    this.snapshot = { time: t, rows }
    for (const listener of this.listeners) {
      try {
        listener(this.snapshot)
      } catch (err) {
        this.options.log.warn({ err: (err as Error).message }, 'live feed listener failed')
      }
    }
  }
}

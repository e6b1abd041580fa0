/**
 * Keeps the agent's V8 heap close to what it has live, for gateways where every MB counts.
 *
 * V8 starts a full collection only once the old generation has grown by its minimum step past what
 * the last one kept (8 MB; 2 MB in its memory-saving mode), and it keeps the pages it grew into. At
 * 200 devices polled every second the old generation ran from 12.4 to 19.5 MB between collections
 * and the agent's resident memory climbed ~5 MB in its first 20 s and stayed there (docs/PERFORMANCE.md,
 * edge agent round 11). V8's memory-saving mode (`--optimize-for-size`) also changes how it compiles,
 * and cost a quarter more CPU without lowering that peak (round 9). So this part asks for the
 * collection itself: once a second it reads how much the heap outside the young generation holds,
 * and once that has grown by `stepMb` since the last full collection (V8's or its own) it runs one.
 * A full collection of the agent's ~12 MB heap pauses it for 10-30 ms, a few times a minute at 200
 * devices; the pollers' timeouts are a second.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { definePart, type Part } from '../../shared/lifecycle.js'
import type { Logger } from '../../shared/logger-base.js'

const MB = 1024 * 1024

/**
 * V8's `gc()`: the global one when node was started with `--expose-gc`, otherwise one taken from a
 * new context with the flag set only while that context is made (so no other code sees a `gc`).
 */
export function exposedGc(): () => void {
  const global = (globalThis as { gc?: () => void }).gc
  if (typeof global === 'function') return global
  v8.setFlagsFromString('--expose-gc')
  try {
    return vm.runInNewContext('gc') as () => void
  } finally {
    v8.setFlagsFromString('--no-expose-gc')
  }
}

/** Bytes in use in V8's heap outside the young generation: what only a full collection frees. */
export function oldGenerationUsed(): number {
  let used = 0
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith('new_')) used += space.space_used_size
  }
  return used
}

export interface HeapCollectorOptions {
  /** Growth of the old generation since the last full collection that starts one; 0: leave it to V8. */
  stepMb: number
  /** How often the heap is read. */
  everyMs?: number
  log?: Logger
}

export class HeapCollector {
  /** Full collections this part ran (V8's own are not counted). */
  collections = 0
  readonly part: Part
  private readonly step: number
  private readonly everyMs: number
  private gc: (() => void) | undefined
  private floor = 0
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly opts: HeapCollectorOptions) {
    this.step = opts.stepMb * MB
    this.everyMs = opts.everyMs ?? 1000
    this.part = definePart('heap collector', {
      start: async () => {
        if (this.step <= 0) return
        this.gc = exposedGc()
        this.floor = oldGenerationUsed()
        this.timer = setInterval(() => this.check(), this.everyMs)
        this.timer.unref() // never what keeps the process alive
      },
      stop: async () => {
        clearInterval(this.timer)
        this.timer = undefined
      },
    })
  }

  /** Runs a full collection if the old generation has grown by the step; whether it did. */
  check(): boolean {
    if (this.gc === undefined) return false
    const used = oldGenerationUsed()
    // Below the floor: V8 collected on its own since; measure growth from what that one kept.
    if (used < this.floor) this.floor = used
    if (used - this.floor < this.step) return false
    const t0 = performance.now()
    this.gc()
    this.floor = oldGenerationUsed()
    this.collections++
    this.opts.log?.debug(
      {
        before_mb: round(used / MB),
        after_mb: round(this.floor / MB),
        ms: round(performance.now() - t0),
      },
      'heap collected',
    )
    return true
  }
}

const round = (n: number) => Math.round(n * 10) / 10

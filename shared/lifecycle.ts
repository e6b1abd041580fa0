/**
 * The lifecycle contract every long-lived part shares (docs/CONVENTIONS.md §3): `start(signal)`, an idempotent
 * draining `stop()` that returns the same promise to every caller, and `ready()`. A `Stack` registers
 * a part before starting it, starts parts in order, stops them in reverse, and reports readiness, so
 * a stop that arrives in the middle of a start still stops every part that had begun.
 */
import type { Logger } from './logger.js'
import type { SiteIndex } from './site-model.js'

export interface Part {
  readonly name: string
  /** Starts the part; rejects with an AbortError when `signal` fires first. */
  start(signal: AbortSignal): Promise<void>
  /** Drains and stops; the same promise for every caller; safe before, during and after start. */
  stop(): Promise<void>
  /** Whether the part can do its work now (the ops server's /ready). */
  ready(): boolean | Promise<boolean>
  /**
   * Takes a re-read site model without a restart (SIGHUP), for the parts that can: the broker takes
   * its identities. Parts without it keep the model they started with.
   */
  reloadSite?(site: SiteIndex): void
}

export interface PartImpl {
  start(signal: AbortSignal): Promise<void>
  stop(): Promise<void>
  ready?(): boolean | Promise<boolean>
}

/** How long a stop waits for an unfinished start before stopping what exists so far. */
const START_SETTLE_MS = 2_000

export class AbortedError extends Error {
  constructor(what: string) {
    super(`${what}: stopped before it had started`)
    this.name = 'AbortError'
  }
}

/** Rejects when `signal` fires, otherwise settles as `promise` does. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new AbortedError(what))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortedError(what))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

/**
 * Wraps a service object into a `Part`. The wrapper gives every part the same guarantees whatever
 * the service does inside: start runs once and is abandoned when the signal fires; stop is
 * memoised; a stop during start waits briefly for the start to settle, stops, and stops again once a
 * late start finishes, so nothing a late start created (a reconnecting client, a timer) survives.
 */
export function definePart(name: string, impl: PartImpl): Part {
  let started: Promise<void> | undefined
  let startSettled = false
  let stopping: Promise<void> | undefined
  let stopped = false
  return {
    name,
    start(signal) {
      if (stopping !== undefined) return Promise.reject(new AbortedError(name))
      started ??= impl.start(signal).finally(() => {
        startSettled = true
      })
      return abortable(started, signal, name)
    },
    stop() {
      stopping ??= (async () => {
        if (!started) return
        if (!startSettled) {
          await Promise.race([started.catch(() => undefined), delay(START_SETTLE_MS)])
          // A start that finishes later may have created more: stop that too.
          if (!startSettled)
            void started.then(
              () => impl.stop(),
              () => impl.stop(),
            )
        }
        await impl.stop()
      })().finally(() => {
        stopped = true
      })
      return stopping
    },
    ready() {
      if (!startSettled || stopping || stopped) return false
      return impl.ready ? impl.ready() : true
    },
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

export interface StackOptions {
  log?: Logger
  /** Called with each part's name once it has started (e.g. to publish an address). */
  onStarted?: (part: Part) => void
}

/** Parts started in order and stopped in reverse; `stop()` is idempotent and safe during `start()`. */
export class Stack {
  private readonly parts: Part[] = []
  private stopping: Promise<void> | undefined
  /** The part whose stop is being awaited (for a log line when a stop takes too long). */
  stoppingPart: string | undefined

  constructor(private readonly options: StackOptions = {}) {}

  get names(): string[] {
    return this.parts.map((p) => p.name)
  }

  /** Starts `parts` in order, each registered before its start; on failure stops what began and rethrows. */
  async start(parts: Part[], signal: AbortSignal): Promise<void> {
    for (const part of parts) {
      if (this.stopping || signal.aborted) throw new AbortedError(part.name)
      this.parts.push(part)
      try {
        await part.start(signal)
      } catch (err) {
        await this.stop()
        throw err
      }
      this.options.log?.debug({ part: part.name }, 'started')
      this.options.onStarted?.(part)
    }
  }

  /** Stops every registered part in reverse order; errors are logged, never thrown. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const part of [...this.parts].reverse()) {
        this.stoppingPart = part.name
        try {
          await part.stop()
        } catch (err) {
          this.options.log?.warn({ part: part.name, err: (err as Error).message }, 'error while stopping')
        }
      }
      this.stoppingPart = undefined
    })()
    return this.stopping
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const checks: Record<string, boolean> = {}
    for (const part of this.parts) {
      try {
        checks[part.name] = await part.ready()
      } catch {
        checks[part.name] = false
      }
    }
    return { ready: !this.stopping && Object.values(checks).every(Boolean), checks }
  }
}

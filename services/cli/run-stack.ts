/**
 * Runs one command's parts until SIGINT/SIGTERM. Signals are handled from the first instant, so a
 * Ctrl-C at any moment of start or stop ends the process: the stack stops every part it registered
 * (in reverse), and a process that something still holds open after that exits anyway.
 */
import type { KawasanError } from '../../shared/errors.js'
import { AbortedError, type Part, Stack } from '../../shared/lifecycle.js'
import type { Logger } from '../../shared/logger.js'
import type { OpsRegistry } from '../../shared/ops-server.js'

/** After a clean stop, the most a lingering handle (a socket, a timer) may keep the process alive. */
const EXIT_GRACE_MS = 3_000
/**
 * The most a stop may take before the process exits anyway. Nothing is lost by cutting a drain short:
 * what was not written was not acknowledged, and gateways send it again.
 */
const STOP_DEADLINE_MS = 15_000

export interface RunOptions {
  log: Logger
  ops: OpsRegistry
  /** Builds the parts; called after the signal handlers are in place. */
  parts: () => Part[]
  /** Called once every part has started (e.g. to publish addresses); undone by `onStop`. */
  onStarted?: () => void
  onStop?: () => void
  /** Called on SIGHUP once every part has started (re-read what can change without a restart). */
  onReload?: () => void
}

export async function runStack(options: RunOptions): Promise<number> {
  const { log, ops } = options
  const abort = new AbortController()
  const stack = new Stack({ log })
  let signals = 0
  const onSignal = (signal: NodeJS.Signals) => {
    signals++
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now')
      process.exit(130)
    }
    log.info({ signal }, 'stopping')
    abort.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  // SIGHUP's default ends the process: a reload asked for before the parts are up is ignored
  // rather than fatal (they start on the file as it is now anyway).
  const onHangup = () => {
    if (allStarted && !abort.signal.aborted) options.onReload?.()
    else log.info('SIGHUP before start finished: nothing to reload yet')
  }
  process.on('SIGHUP', onHangup)
  let allStarted = false
  ops.addReadiness('started', () => allStarted)
  ops.addReadiness('parts', async () => (await stack.readiness()).ready)
  let exitCode = 0
  try {
    await stack.start(options.parts(), abort.signal)
    allStarted = true
    options.onStarted?.()
    log.info({ parts: stack.names }, 'started; Ctrl-C stops')
    await new Promise<void>((resolve) => {
      if (abort.signal.aborted) resolve()
      else abort.signal.addEventListener('abort', () => resolve(), { once: true })
    })
  } catch (err) {
    if (!(err instanceof AbortedError) && !abort.signal.aborted) {
      log.error(
        { err: (err as Error).message, code: (err as KawasanError).code },
        'start failed; stopping what was started',
      )
      exitCode = 1
      await stopWithin(stack, log)
      options.onStop?.()
      leaveSoon(exitCode)
      throw err
    }
  }
  await stopWithin(stack, log)
  options.onStop?.()
  log.info('stopped')
  leaveSoon(exitCode)
  return exitCode
}

/** Stops the stack, or gives up after STOP_DEADLINE_MS naming the part that held it. */
async function stopWithin(stack: Stack, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), STOP_DEADLINE_MS)
  })
  const outcome = await Promise.race([stack.stop(), late])
  clearTimeout(timer)
  if (outcome === 'late')
    log.warn(
      { part: stack.stoppingPart, afterMs: STOP_DEADLINE_MS },
      'a part did not stop in time; exiting anyway',
    )
}

/** Exits after a grace period unless the event loop empties first (the normal case). */
function leaveSoon(code: number): void {
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref()
}

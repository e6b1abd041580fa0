/**
 * `kawasan rollup backfill --from 2026-01-01 --to 2026-03-31 [--cluster X] [--minutes] [--restart]`:
 * rolls up a range of local days (rollup_1d and its rollup_1h, optionally rollup_1m) with a
 * progress bar on stderr. The position is saved after every day in a state file under dataDir, so
 * an interrupted backfill (Ctrl-C, crash) resumes at the next day; `--restart` ignores it.
 * Recomputing overwrites (idempotent), so a day done twice is harmless.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { nextDate } from '../../shared/emissions/local-days.js'
import type { RollupEngine, RollupJob } from './compute.js'
import { datesBetween, dayJob, hoursOfDay, MINUTE_MS } from './windows.js'

export interface BackfillPosition {
  cluster: string
  from: string
  to: string
  /** The factor choice (`RollupFactors.label`): a different one starts the range over. */
  factorSet: string
  minutes: boolean
  /** Next date to roll up; past `to` when done. */
  next: string
  done: number
  total: number
}

export interface BackfillOptions {
  engine: RollupEngine
  from: string
  to: string
  /** Label of the factor choice saved with the position; default the engine's. */
  factorSet?: string
  stateFile: string
  restart?: boolean
  /** Also write rollup_1m (1,440 windows a day). */
  minutes?: boolean
  /** Only these dates of the range (a recompute of the days whose factors changed). */
  only?: readonly string[]
  signal?: AbortSignal
  now?: () => number
  onDay?: (date: string, position: BackfillPosition) => void
  /** Called once before the first day, with the date resumed at (if a saved position was used). */
  onStart?: (position: BackfillPosition, resumedFrom: string | undefined) => void
  progress?: ProgressReporter
}

export interface BackfillResult {
  days: string[]
  resumedFrom?: string
  interrupted: boolean
}

export function backfillStateFile(dataDir: string, cluster: string, kind = 'backfill'): string {
  return join(dataDir, 'rollup', `${kind}-${cluster}.json`)
}

export async function runBackfill(o: BackfillOptions): Promise<BackfillResult> {
  const site = o.engine.site
  const tz = site.cluster.timezone
  const only = o.only ? new Set(o.only) : undefined
  const all = datesBetween(o.from, o.to).filter((d) => !only || only.has(d))
  const fresh: BackfillPosition = {
    cluster: site.cluster.id,
    from: o.from,
    to: o.to,
    factorSet: o.factorSet ?? o.engine.factors.label,
    minutes: !!o.minutes,
    next: o.from,
    done: 0,
    total: all.length,
  }
  let pos = fresh
  const saved = o.restart ? undefined : readPosition(o.stateFile)
  let resumedFrom: string | undefined
  if (
    saved &&
    saved.cluster === fresh.cluster &&
    saved.from === fresh.from &&
    saved.to === fresh.to &&
    saved.factorSet === fresh.factorSet &&
    saved.minutes === fresh.minutes &&
    saved.total === fresh.total
  ) {
    pos = saved
    if (saved.next > o.from) resumedFrom = saved.next
  }
  const todo = all.filter((d) => d >= pos.next)
  const days: string[] = []
  const now = o.now ?? Date.now
  const started = now()
  o.onStart?.(pos, resumedFrom)
  o.progress?.update(pos.done, pos.total, 0, 0)
  for (const date of todo) {
    if (o.signal?.aborted) return { days, interrupted: true, ...(resumedFrom ? { resumedFrom } : {}) }
    const jobs: RollupJob[] = [
      { ...dayJob(date, tz), resolution: '1d' },
      ...hoursOfDay(date, tz).map((h): RollupJob => ({ ...h, resolution: '1h' })),
    ]
    const computed = await o.engine.run(jobs)
    if (o.minutes) {
      // One read per hour keeps 60 minute windows × devices of energies in memory, not 1,440.
      for (const h of hoursOfDay(date, tz)) {
        const minutes: RollupJob[] = []
        for (let t = h.window.start; t < h.window.end; t += MINUTE_MS)
          minutes.push({ window: { start: t, end: t + MINUTE_MS }, date, complete: true, resolution: '1m' })
        // The day just computed gives each hour's opening battery store and certificate use.
        await o.engine.run(minutes, undefined, computed.slice(0, 1))
      }
    }
    days.push(date)
    const i = all.indexOf(date)
    pos = { ...pos, next: nextDate(date), done: i + 1 }
    writePosition(o.stateFile, pos)
    o.progress?.update(pos.done, pos.total, now() - started, days.length)
    o.onDay?.(date, pos)
  }
  o.progress?.finish()
  return { days, interrupted: false, ...(resumedFrom ? { resumedFrom } : {}) }
}

function readPosition(file: string): BackfillPosition | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as BackfillPosition
  } catch {
    return undefined
  }
}

function writePosition(file: string, pos: BackfillPosition): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(`${file}.tmp`, JSON.stringify(pos, null, 2))
  renameSync(`${file}.tmp`, file) // atomic: a crash leaves the old or the new position, never half
}

export interface ProgressReporter {
  /** `done` of `total` days; `elapsedMs` and `daysThisRun` give the rate for the ETA. */
  update(done: number, total: number, elapsedMs: number, daysThisRun: number): void
  finish(): void
}

/** `[########------------]  12/90 days  13%  1.2 s/day  ETA 1m34s` */
export function formatProgress(done: number, total: number, elapsedMs: number, daysThisRun: number): string {
  const width = 24
  const frac = total > 0 ? done / total : 1
  const filled = Math.round(frac * width)
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`
  const pct = `${Math.floor(frac * 100)}%`.padStart(4)
  let rate = ''
  let eta = 'ETA --'
  if (daysThisRun > 0) {
    const perDay = elapsedMs / daysThisRun
    rate = `  ${(perDay / 1000).toFixed(1)} s/day`
    eta = `ETA ${formatDuration(perDay * (total - done))}`
  }
  return `${bar} ${String(done).padStart(String(total).length)}/${total} days ${pct}${rate}  ${eta}`
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/** A progress bar on a stream: redrawn in place on a terminal, one line per update otherwise. */
export function streamProgress(stream: NodeJS.WriteStream): ProgressReporter {
  const tty = stream.isTTY === true
  return {
    update(done, total, elapsedMs, daysThisRun) {
      const line = formatProgress(done, total, elapsedMs, daysThisRun)
      stream.write(tty ? `\r${line}` : `${line}\n`)
    },
    finish() {
      if (tty) stream.write('\n')
    },
  }
}

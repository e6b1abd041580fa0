/**
 * The status file the running agent refreshes for `kawasan-agent status` (and for monitoring that
 * cannot reach the broker): buffer depth, last publish, per-device health. Written by rename so a
 * reader never sees half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { ClockState } from './clock-discipline.js'
import type { DeviceHealth } from './device-poller.js'
import type { PublisherState } from './publisher.js'
import type { SpoolStats } from './spool.js'

export interface AgentStatusFile {
  version: string
  pid: number
  started_at: number
  updated_at: number
  clock: string
  /** Offset to the estate clock and whether timestamps are corrected (clock-discipline.ts). */
  estate_clock?: ClockState
  broker: PublisherState & { url: string }
  buffer: SpoolStats
  devices: Record<string, DeviceHealth & { driver: string; role: string }>
  /** Set by `kawasan-agent run` once the agent stopped cleanly; a new start writes a file without it. */
  stopped_at?: number
}

/** The app refreshes the file every 2 s; older than this, the agent is hung or gone. */
export const STATUS_STALE_MS = 10_000

export type Liveness =
  | { state: 'running' }
  | { state: 'stopped'; at: number }
  | { state: 'gone'; lastUpdate: number }
  | { state: 'stale'; ageMs: number }

/**
 * Whether the agent that wrote the file still runs: a clean stop is recorded in the file; a crash
 * or kill -9 leaves a file whose process is gone; a hung agent stops refreshing it.
 */
export function livenessOf(
  s: AgentStatusFile,
  now: number,
  isAlive: (pid: number) => boolean = pidAlive,
): Liveness {
  if (s.stopped_at !== undefined) return { state: 'stopped', at: s.stopped_at }
  if (!isAlive(s.pid)) return { state: 'gone', lastUpdate: s.updated_at }
  const ageMs = now - s.updated_at
  return ageMs > STATUS_STALE_MS ? { state: 'stale', ageMs } : { state: 'running' }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to another user (the service user).
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Records a clean stop in the status file the agent left (after its final refresh). */
export function markStopped(file: string, at: number): void {
  writeStatusFile(file, { ...readStatusFile(file), stopped_at: at, updated_at: at })
}

export function writeStatusFile(file: string, status: AgentStatusFile): void {
  mkdirSync(dirname(file), { recursive: true })
  const tmp = `${file}.tmp`
  writeFileSync(tmp, `${JSON.stringify(status, null, 2)}\n`)
  renameSync(tmp, file)
}

export function readStatusFile(file: string): AgentStatusFile {
  return JSON.parse(readFileSync(file, 'utf8')) as AgentStatusFile
}

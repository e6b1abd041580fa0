/**
 * The status file the running agent refreshes for `kawasan-agent status` (and for monitoring that
 * cannot reach the broker): buffer depth, last publish, per-device health. Written by rename so a
 * reader never sees half a file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { DeviceHealth } from './device-poller.js'
import type { PublisherState } from './publisher.js'
import type { SpoolStats } from './spool.js'

export interface AgentStatusFile {
  version: string
  pid: number
  started_at: number
  updated_at: number
  clock: string
  broker: PublisherState & { url: string }
  buffer: SpoolStats
  devices: Record<string, DeviceHealth & { driver: string; role: string }>
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

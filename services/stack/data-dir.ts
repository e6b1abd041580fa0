/**
 * One deployment per data directory. `kawasan start` holds `<dataDir>/kawasan.lock` while it runs and
 * publishes where its parts listen in `<dataDir>/runtime.json`; every other command in the same data
 * directory reads that file to use the running stack's InfluxDB instead of starting a second one.
 * A lock whose process is gone is stale and taken over.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { isProcessAlive } from '../../shared/pid-lock.js'

const runtimeSchema = z.object({
  pid: z.number().int(),
  startedAt: z.string(),
  influxUrl: z.string().optional(),
  influxDatabase: z.string().optional(),
  mqttUrl: z.string().optional(),
  apiUrl: z.string().optional(),
  opsUrl: z.string().optional(),
})
export type RuntimeInfo = z.infer<typeof runtimeSchema>

export function dataDirLockFile(dataDir: string): string {
  return join(resolve(dataDir), 'kawasan.lock')
}

function runtimeFile(dataDir: string): string {
  return join(resolve(dataDir), 'runtime.json')
}

/** Where the running `kawasan start` of this data directory listens, if one runs. */
export function readRuntime(dataDir: string): RuntimeInfo | undefined {
  const file = runtimeFile(dataDir)
  if (!existsSync(file)) return undefined
  try {
    const info = runtimeSchema.parse(JSON.parse(readFileSync(file, 'utf8')))
    return isProcessAlive(info.pid) ? info : undefined
  } catch {
    return undefined
  }
}

export function writeRuntime(dataDir: string, info: RuntimeInfo): void {
  const file = runtimeFile(dataDir)
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info, null, 2)}\n`)
  renameSync(`${file}.tmp`, file) // atomic: a reader never sees half a file
}

export function removeRuntime(dataDir: string): void {
  const info = readRuntimeRaw(dataDir)
  if (info?.pid === process.pid) rmSync(runtimeFile(dataDir), { force: true })
}

function readRuntimeRaw(dataDir: string): RuntimeInfo | undefined {
  try {
    return runtimeSchema.parse(JSON.parse(readFileSync(runtimeFile(dataDir), 'utf8')))
  } catch {
    return undefined
  }
}

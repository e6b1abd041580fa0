/**
 * The process settings a systemd unit in infra/systemd gives its service (V8 heap and thread pool in
 * NODE_OPTIONS, glibc's MALLOC_ARENA_MAX), so benchmarks and fault tests run it as a host does.
 * Only these two: the unit's other variables (config path, NODE_ENV) are the caller's business.
 */
import { readFileSync } from 'node:fs'

const KEYS = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'] as const
export type UnitEnvironment = Partial<Record<(typeof KEYS)[number], string>>

/** The variables `infra/systemd/<unit>.service` sets (a variable it does not set is absent). */
export function unitEnvironment(
  unit: 'kawasan-agent' | 'kawasan-broker' | 'kawasan-ingest',
): UnitEnvironment {
  const text = readFileSync(new URL(`../systemd/${unit}.service`, import.meta.url), 'utf8')
  const env: UnitEnvironment = {}
  for (const key of KEYS) {
    const m = new RegExp(`^Environment="?${key}=([^"\\n]*)"?$`, 'm').exec(text)
    if (m) env[key] = m[1]!
  }
  return env
}

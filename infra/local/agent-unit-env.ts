/**
 * The process settings infra/systemd/kawasan-agent.service gives the agent (V8 heap and thread pool in
 * NODE_OPTIONS, glibc's MALLOC_ARENA_MAX), so benchmarks and fault tests run it as a gateway does.
 * Only these two: the unit's other variables (config path, NODE_ENV) are the caller's business.
 */
import { readFileSync } from 'node:fs'

const UNIT = new URL('../systemd/kawasan-agent.service', import.meta.url)
const KEYS = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'] as const

/** The variables the unit sets (a variable it does not set is absent). */
export function agentUnitEnvironment(): Partial<Record<(typeof KEYS)[number], string>> {
  const unit = readFileSync(UNIT, 'utf8')
  const env: Partial<Record<(typeof KEYS)[number], string>> = {}
  for (const key of KEYS) {
    const m = new RegExp(`^Environment="?${key}=([^"\\n]*)"?$`, 'm').exec(unit)
    if (m) env[key] = m[1]!
  }
  return env
}

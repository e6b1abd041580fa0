/**
 * pino setup. One root logger per process; modules take a child with a fixed `module` binding
 * (docs/CONVENTIONS.md §8). Secrets are redacted by path so a config dump can never leak them
 * (shared/logger-base.ts).
 */
import pretty from 'pino-pretty'
import { buildLogger, defaultLogFormat, type LogFormat, type Logger, PRETTY_OPTIONS } from './logger-base.js'

export { defaultLogFormat, silentLogger } from './logger-base.js'
export type { LogFormat, Logger }

export function createLogger(options: { level?: string; name?: string; format?: LogFormat } = {}): Logger {
  const format = options.format ?? defaultLogFormat()
  return buildLogger(options, format === 'pretty' ? pretty(PRETTY_OPTIONS) : undefined)
}

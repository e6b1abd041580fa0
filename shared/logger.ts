/**
 * pino setup. One root logger per process; modules take a child with a fixed `module` binding
 * (docs/CONVENTIONS.md §8). Secrets are redacted by path so a config dump can never leak them.
 */
import { type Logger, pino } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

export type LogFormat = 'json' | 'pretty'

/**
 * Human-readable lines on a terminal, JSON otherwise (files, journald, log shippers) or when asked
 * (`--log-format json`, LOG_FORMAT=json).
 */
export function defaultLogFormat(stream: { isTTY?: boolean } = process.stdout): LogFormat {
  const env = process.env.LOG_FORMAT
  if (env === 'json' || env === 'pretty') return env
  return stream.isTTY ? 'pretty' : 'json'
}

export function createLogger(options: { level?: string; name?: string; format?: LogFormat } = {}): Logger {
  const format = options.format ?? defaultLogFormat()
  // sync: a line written before process.exit is never lost.
  const destination =
    format === 'pretty'
      ? pretty({ sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' })
      : undefined
  const opts = {
    name: options.name ?? 'kawasan',
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: {
      paths: [
        'password',
        '*.password',
        '*.*.password',
        'token',
        '*.token',
        '*.*.token',
        'apiKey',
        '*.apiKey',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  }
  return destination ? pino(opts, destination) : pino(opts)
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

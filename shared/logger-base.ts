/**
 * pino without a pretty printer: the options every Kawasan logger shares (redaction of secrets) and
 * the silent logger. shared/logger.ts adds the terminal format; the edge agent loads that printer
 * only when it runs on a terminal, since a gateway service logs JSON and pays for every module.
 */
import { type DestinationStream, type Logger, pino } from 'pino'

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

/** A logger writing JSON lines to stdout, or to `destination` (a pretty printer). */
export function buildLogger(
  options: { level?: string; name?: string } = {},
  destination?: DestinationStream,
): Logger {
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

/** Options of the terminal printer (pino-pretty); sync: a line written before process.exit is never lost. */
export const PRETTY_OPTIONS = {
  sync: true,
  colorize: true,
  translateTime: 'SYS:HH:MM:ss',
  ignore: 'pid,hostname',
} as const

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

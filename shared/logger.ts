/**
 * pino setup. One root logger per process; modules take a child with a fixed `module` binding
 * (STYLE §8). Secrets are redacted by path so a config dump can never leak them.
 */
import { type Logger, pino } from 'pino'

export type { Logger }

export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({
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
  })
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}

/**
 * The agent's root logger. JSON (journald, files) needs only pino; the terminal printer
 * (pino-pretty and its dependencies, ~10 MB resident when loaded) is imported only when the agent
 * writes to a terminal, so a gateway service never loads it.
 */
import { buildLogger, defaultLogFormat, type Logger, PRETTY_OPTIONS } from '../../shared/logger-base.js'

export async function createAgentLogger(options: { level?: string; name?: string }): Promise<Logger> {
  if (defaultLogFormat() !== 'pretty') return buildLogger(options)
  const { default: pretty } = await import('pino-pretty')
  return buildLogger(options, pretty(PRETTY_OPTIONS))
}

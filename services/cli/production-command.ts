/**
 * `kawasan production import FILE`: production per plant and day from a CSV file (header
 * plant,date,quantity,unit) into the deployment's InfluxDB, all rows or none; a refused file lists
 * every bad line (docs/ENPI.md).
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { parseProductionCsv } from '../enpi/production-file.js'
import { ProductionError } from '../enpi/production-schema.js'
import { ProductionStore } from '../enpi/production-store.js'
import { resolveInflux } from '../stack/influx.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

export async function productionCommand(
  config: KawasanConfig,
  ctx: CommandContext,
  usageError: (reason: string) => number,
): Promise<number> {
  const [action, file, extra] = ctx.args.positionals
  if (action !== 'import') return usageError(action ? `unknown action "${action}"` : 'import?')
  if (!file || extra !== undefined) return usageError('give one file to import')
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    ctx.err.write(`kawasan production import: cannot read ${file}: ${(err as Error).message}\n`)
    return 1
  }
  const site = loadSiteModel(config.site)
  const log = createLogger({ level: 'warn', name: 'kawasan-production', format: ctx.logFormat })
  const resolved = await resolveInflux(config, log, 'shared')
  const store = new ProductionStore(new InfluxClient(resolved.target), site)
  const name = basename(file)
  try {
    const entries = await store.enter(parseProductionCsv(text), 'cli', `file:${name}`)
    ctx.err.write(
      `imported ${entries.length} production row(s) from ${name} into ${resolved.target.url}/${resolved.target.database}\n`,
    )
    return 0
  } catch (err) {
    if (!(err instanceof ProductionError)) throw err
    ctx.err.write(`kawasan production import: ${err.message} [${err.code}]\n`)
    return 1
  }
}

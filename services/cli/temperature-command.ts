/**
 * `kawasan temperature import FILE`: daily mean outdoor temperatures per plant (or `shared` for the
 * estate) from a CSV file (header plant,date,mean_temp_c) into the deployment's InfluxDB, all rows
 * or none; a refused file lists every bad line (docs/ENPI.md "Cooling degree days").
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { parseTemperatureCsv } from '../enpi/temperature-file.js'
import { TemperatureError } from '../enpi/temperature-schema.js'
import { TemperatureStore } from '../enpi/temperature-store.js'
import { resolveInflux } from '../stack/influx.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

export async function temperatureCommand(
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
    ctx.err.write(`kawasan temperature import: cannot read ${file}: ${(err as Error).message}\n`)
    return 1
  }
  const site = loadSiteModel(config.site)
  const log = createLogger({ level: 'warn', name: 'kawasan-temperature', format: ctx.logFormat })
  const resolved = await resolveInflux(config, log, 'shared')
  const store = new TemperatureStore(new InfluxClient(resolved.target), site)
  const name = basename(file)
  try {
    const entries = await store.enter(parseTemperatureCsv(text), 'cli', `file:${name}`)
    ctx.err.write(
      `imported ${entries.length} temperature row(s) from ${name} into ${resolved.target.url}/${resolved.target.database}\n`,
    )
    return 0
  } catch (err) {
    if (!(err instanceof TemperatureError)) throw err
    ctx.err.write(`kawasan temperature import: ${err.message} [${err.code}]\n`)
    return 1
  }
}

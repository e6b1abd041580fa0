/**
 * `kawasan production import FILE`: production per plant and day from a CSV file (header
 * plant,date,quantity,unit) into the deployment's InfluxDB, all rows or none; a refused file lists
 * every bad line (docs/ENPI.md).
 */
import { parseProductionCsv } from '../enpi/production-file.js'
import { ProductionError } from '../enpi/production-schema.js'
import { ProductionStore } from '../enpi/production-store.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'
import { importEntryFile } from './entry-file-import.js'

export function productionCommand(
  config: KawasanConfig,
  ctx: CommandContext,
  usageError: (reason: string) => number,
): Promise<number> {
  return importEntryFile(
    {
      command: 'production',
      parse: parseProductionCsv,
      open: (influx, site) => new ProductionStore(influx, site),
      refusal: ProductionError,
    },
    config,
    ctx,
    usageError,
  )
}

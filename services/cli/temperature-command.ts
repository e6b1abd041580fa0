/**
 * `kawasan temperature import FILE`: daily mean outdoor temperatures per plant (or `shared` for the
 * estate) from a CSV file (header plant,date,mean_temp_c) into the deployment's InfluxDB, all rows
 * or none; a refused file lists every bad line (docs/ENPI.md "Cooling degree days").
 */
import { parseTemperatureCsv } from '../enpi/temperature-file.js'
import { TemperatureError } from '../enpi/temperature-schema.js'
import { TemperatureStore } from '../enpi/temperature-store.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'
import { importEntryFile } from './entry-file-import.js'

export function temperatureCommand(
  config: KawasanConfig,
  ctx: CommandContext,
  usageError: (reason: string) => number,
): Promise<number> {
  return importEntryFile(
    {
      command: 'temperature',
      parse: parseTemperatureCsv,
      open: (influx, site) => new TemperatureStore(influx, site),
      refusal: TemperatureError,
    },
    config,
    ctx,
    usageError,
  )
}

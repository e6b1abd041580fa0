/** `kawasan manual import FILE | list`: manual entries (shared/manual-entries) in the deployment's InfluxDB. */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { KawasanError } from '../../shared/errors.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { parseManualFile } from '../../shared/manual-entries/file.js'
import { ManualEntries } from '../../shared/manual-entries/register.js'
import type { ManualEntry } from '../../shared/manual-entries/schema.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { resolveInflux } from '../stack/influx.js'
import { MANUAL_USAGE } from './audit-options.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

export async function manualCommand(config: KawasanConfig, ctx: CommandContext): Promise<number> {
  const [action, file, extra] = ctx.args.positionals
  const fail = (reason: string) => {
    ctx.err.write(`kawasan manual: ${reason}\n\nusage:\n${MANUAL_USAGE}\n`)
    return 2
  }
  if (action === 'import' && (!file || extra !== undefined)) return fail('give one file to import')
  if (action === 'list' && file !== undefined) return fail(`unexpected argument "${file}"`)
  if (action !== 'import' && action !== 'list')
    return fail(action ? `unknown action "${action}"` : 'import or list?')
  let text = ''
  if (action === 'import')
    try {
      text = readFileSync(file!, 'utf8')
    } catch (err) {
      ctx.err.write(`kawasan manual import: cannot read ${file}: ${(err as Error).message}\n`)
      return 1
    }
  const log = createLogger({ level: 'warn', name: 'kawasan-manual', format: ctx.logFormat })
  const resolved = await resolveInflux(config, log, 'shared')
  const entries = new ManualEntries({
    influx: new InfluxClient(resolved.target),
    site: loadSiteModel(config.site),
  })
  const iso = (ms: number) => new Date(ms).toISOString()
  const what = (e: ManualEntry) => {
    switch (e.kind) {
      case 'correction':
        return `correction ${iso(e.start)}..${iso(e.end)} ${e.energy_kwh} kWh`
      case 'meter_replacement':
        return `meter replacement at ${iso(e.start)}: old ${e.old_final_kwh} kWh, new ${e.new_start_kwh} kWh`
      case 'fuel_delivery': {
        const stock = [
          e.opening_stock !== undefined ? `opening ${e.opening_stock}` : '',
          e.closing_stock !== undefined ? `closing ${e.closing_stock}` : '',
        ].filter(Boolean)
        return `fuel delivery ${e.quantity} ${e.unit} ${e.fuel} at ${iso(e.delivered_at)} for ${iso(e.start)}..${iso(e.end)}${stock.length ? ` (stock ${stock.join(', ')} ${e.unit})` : ''}`
      }
      case 'utility_bill':
        return `utility bill ${iso(e.start)}..${iso(e.end)} ${e.energy_kwh} kWh${e.supplier ? ` from ${e.supplier}` : ''}${e.contract ? ` (${e.contract})` : ''}`
    }
  }
  try {
    if (action === 'list') {
      for (const { entry, history } of await entries.list()) {
        ctx.out.write(`${entry.id}\t${entry.plant}/${entry.device}\t${what(entry)}\n`)
        for (const e of history)
          ctx.out.write(
            `  ${iso(e.time)}\t${e.event}\t${e.actor}\twas: ${e.previous ? what(e.previous) : 'readings'}\tnow: ${what(e.values)}\t${e.reason}\n`,
          )
      }
      return 0
    }
    const name = basename(file!)
    const saved = await entries.importRows(parseManualFile(name, text), `file:${name}`)
    ctx.err.write(`imported ${saved.length} manual entr(y/ies) from ${name}\n`)
    return 0
  } catch (err) {
    if (!(err instanceof KawasanError)) throw err
    ctx.err.write(`kawasan manual ${action}: ${err.message} [${err.code}]\n`)
    return 1
  }
}

/**
 * `kawasan production|temperature import FILE`: one CSV file of daily entries into the deployment's
 * InfluxDB, all rows or none; a refused file lists every bad line (docs/ENPI.md). The two commands
 * differ only in their parser, their store and the error their store refuses with.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import type { SiteModel } from '../../shared/site-model.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { resolveInflux } from '../stack/influx.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

export interface EntryFileKind<Rows> {
  /** The command's name: `kawasan <command> import FILE`. */
  command: string
  parse(text: string): Rows
  open(
    influx: InfluxClient,
    site: SiteModel,
  ): {
    enter(rows: Rows, actor: string, source: string): Promise<readonly unknown[]>
  }
  /** The coded refusal of a bad file (its message lists each line). */
  refusal: abstract new (
    ...args: never[]
  ) => Error & { code: string }
}

export async function importEntryFile<Rows>(
  kind: EntryFileKind<Rows>,
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
    ctx.err.write(`kawasan ${kind.command} import: cannot read ${file}: ${(err as Error).message}\n`)
    return 1
  }
  const site = loadSiteModel(config.site)
  const log = createLogger({ level: 'warn', name: `kawasan-${kind.command}`, format: ctx.logFormat })
  const resolved = await resolveInflux(config, log, 'shared')
  const store = kind.open(new InfluxClient(resolved.target), site)
  const name = basename(file)
  try {
    const entries = await store.enter(kind.parse(text), 'cli', `file:${name}`)
    ctx.err.write(
      `imported ${entries.length} ${kind.command} row(s) from ${name} into ${resolved.target.url}/${resolved.target.database}\n`,
    )
    return 0
  } catch (err) {
    if (!(err instanceof kind.refusal)) throw err
    ctx.err.write(`kawasan ${kind.command} import: ${err.message} [${err.code}]\n`)
    return 1
  }
}

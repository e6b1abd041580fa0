/**
 * `kawasan certificates import FILE | list`: the certificate register (shared/certificate-register)
 * in the deployment's InfluxDB, the one the API and the rollup read.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { CertificateError } from '../../shared/certificate-register/errors.js'
import { parseCertificateFile } from '../../shared/certificate-register/file.js'
import { CertificateRegister } from '../../shared/certificate-register/register.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { resolveInflux } from '../stack/influx.js'
import { CERTIFICATES_USAGE } from './certificates-options.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

export async function certificatesCommand(config: KawasanConfig, ctx: CommandContext): Promise<number> {
  const [action, file, extra] = ctx.args.positionals
  const fail = (reason: string) => {
    ctx.err.write(`kawasan certificates: ${reason}\n\nusage:\n${CERTIFICATES_USAGE}\n`)
    return 2
  }
  if (action === 'import' && (!file || extra !== undefined)) return fail('give one file to import')
  if (action === 'list' && file !== undefined) return fail(`unexpected argument "${file}"`)
  if (action !== 'import' && action !== 'list')
    return fail(action ? `unknown action "${action}"` : 'import or list?')
  const site = loadSiteModel(config.site)
  let text = ''
  if (action === 'import') {
    try {
      text = readFileSync(file!, 'utf8')
    } catch (err) {
      ctx.err.write(`kawasan certificates import: cannot read ${file}: ${(err as Error).message}\n`)
      return 1
    }
  }
  const log = createLogger({ level: 'warn', name: 'kawasan-certificates', format: ctx.logFormat })
  const resolved = await resolveInflux(config, log, 'shared')
  const register = new CertificateRegister({ influx: new InfluxClient(resolved.target), site })
  try {
    if (action === 'list') {
      ctx.out.write(listText(await register.list()))
      return 0
    }
    const name = basename(file!)
    const imported = await register.importRows(
      parseCertificateFile(name, text),
      `file:${name}`,
      `imported from ${name}`,
    )
    ctx.err.write(
      `imported ${imported.length} certificate(s) from ${name} into ${resolved.target.url}/${resolved.target.database}\n`,
    )
    ctx.out.write(listText(imported))
    return 0
  } catch (err) {
    if (!(err instanceof CertificateError)) throw err
    ctx.err.write(`kawasan certificates ${action}: ${err.message} [${err.code}]\n`)
    return 1
  }
}

/** One tab-separated line per certificate. */
export function listText(
  certs: readonly {
    id: string
    type: string
    mwh: number
    from: string
    to: string
    market: string
    plant?: string | undefined
    status: string
  }[],
): string {
  return certs
    .map(
      (c) =>
        `${c.id}\t${c.type}\t${c.mwh} MWh\t${c.from}..${c.to}\t${c.market}\t${c.plant ?? '-'}\t${c.status}\n`,
    )
    .join('')
}

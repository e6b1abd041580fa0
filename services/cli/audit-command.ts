/**
 * `kawasan audit export --from --to --out FILE | verify FILE` (docs/AUDIT.md). Export reads the
 * deployment's InfluxDB and signs with the estate key in the data directory; verify reads the file
 * only.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { KawasanError } from '../../shared/errors.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { buildAuditExport } from '../audit/export.js'
import { documentText, loadOrCreateSigningKey, signDocument, verifyDocument } from '../audit/signing.js'
import { resolveInflux } from '../stack/influx.js'
import { AUDIT_USAGE } from './audit-options.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'

/** Exit 0 and the signing key's fingerprint when FILE verifies, 1 and the reason when not. */
export function auditVerify(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    err.write(`kawasan audit verify: cannot read ${file}: ${(e as Error).message}\n`)
    return 1
  }
  try {
    const { fingerprint } = verifyDocument(text)
    out.write(`OK: ${file} is signed by Ed25519 key ${fingerprint} and unchanged\n`)
    return 0
  } catch (e) {
    if (!(e instanceof KawasanError)) throw e
    err.write(`kawasan audit verify: FAILED: ${e.message} [${e.code}]\n`)
    return 1
  }
}

export async function auditCommand(config: KawasanConfig, ctx: CommandContext): Promise<number> {
  const [action, file, extra] = ctx.args.positionals
  const fail = (reason: string) => {
    ctx.err.write(`kawasan audit: ${reason}\n\nusage:\n${AUDIT_USAGE}\n`)
    return 2
  }
  if (action === 'verify') {
    if (!file || extra !== undefined) return fail('give one file to verify')
    return auditVerify(file, ctx.out, ctx.err)
  }
  if (action !== 'export') return fail(action ? `unknown action "${action}"` : 'export or verify?')
  const { from, to, out } = ctx.args.values as { from?: string; to?: string; out?: string }
  if (!from || !to || !out || file !== undefined) return fail('export needs --from, --to and --out')
  const log = createLogger({ level: 'warn', name: 'kawasan-audit', format: ctx.logFormat })
  const resolved = await resolveInflux(config, log, 'shared')
  try {
    const body = await buildAuditExport({
      influx: new InfluxClient(resolved.target),
      site: loadSiteModel(config.site),
      from,
      to,
    })
    const doc = signDocument(body, loadOrCreateSigningKey(join(config.dataDir, 'audit-ed25519.pem')))
    writeFileSync(out, documentText(doc))
    ctx.err.write(
      `wrote ${out}: ${body.rows.length} row(s), ${body.manual_entries.length} manual entr(y/ies), ${body.input_digest.readings} readings digested; key ${doc.signature.key_fingerprint}\n`,
    )
    return 0
  } catch (e) {
    if (!(e instanceof KawasanError)) throw e
    ctx.err.write(`kawasan audit export: ${e.message} [${e.code}]\n`)
    return 1
  }
}

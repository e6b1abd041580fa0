/**
 * `kawasan gateway add PLANT`: adds a gateway identity for a plant to the site model (with a fresh
 * random password, stored only as its scrypt hash) and prints the agent config for it and the
 * password, once. The site model file is edited in place with its comments kept, and validated
 * before it replaces the old one; the broker reads identities at start, so restart it afterwards.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import { renderConfigTemplate } from '../../edge-agent/src/config-template.js'
import { publicKeyText } from '../../edge-agent/src/remote-config.js'
import { hashPassword } from '../../shared/password-hash.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'
import { estateSigningKey } from './gateway-signing-key.js'

/** 24 random bytes: 192 bits, printed once as base64url. */
export function newGatewayPassword(): string {
  return randomBytes(24).toString('base64url')
}

export async function gatewayCommand(
  config: KawasanConfig,
  ctx: CommandContext,
  usageError: (reason: string) => number,
): Promise<number> {
  const [action, plant] = ctx.args.positionals
  if (action === 'config') {
    const { gatewayConfigCommand } = await import('./gateway-config.js')
    return gatewayConfigCommand(config, ctx, usageError)
  }
  if (action !== 'add') return usageError(action ? `unknown action "${action}"` : 'add or config?')
  if (!plant) return usageError('which plant? kawasan gateway add PLANT')
  const file = config.site
  const model = loadSiteModel(file)
  if (!model.plants.some((p) => p.id === plant))
    return usageError(
      `plant "${plant}" is not in the site model ${file} (plants: ${model.plants.map((p) => p.id).join(', ')})`,
    )
  const username = (ctx.args.values.username as string | undefined) ?? `gw-${plant}`
  if (model.identities.some((i) => i.username === username))
    return usageError(`identity ${username} already exists in ${file}; choose another with --username`)
  const host = config.broker.host === '0.0.0.0' ? '127.0.0.1' : config.broker.host
  const brokerUrl = (ctx.args.values.broker as string | undefined) ?? `mqtt://${host}:${config.broker.port}`

  const password = newGatewayPassword()
  const doc = parseDocument(readFileSync(file, 'utf8'))
  const identity = { username, role: 'gateway', plant, password_hash: await hashPassword(password) }
  if (doc.hasIn(['identities'])) doc.addIn(['identities'], identity)
  else doc.setIn(['identities'], [identity])
  // Validated as a whole before it replaces the file, which is never left half written.
  const tmp = `${file}.gateway-add.tmp`
  writeFileSync(tmp, doc.toString())
  try {
    loadSiteModel(tmp)
    renameSync(tmp, file)
  } finally {
    rmSync(tmp, { force: true })
  }

  const agentConfig = renderConfigTemplate({
    cluster: model.cluster.id,
    plant,
    brokerUrl,
    bufferDir: '/var/lib/kawasan-agent',
  }).replace(`username: gw-${plant}`, `username: ${username}`)
  // The estate key's public half: the agent applies configs it signed (`kawasan gateway config`).
  const publicKey = publicKeyText(estateSigningKey(config.dataDir))
  const remote = `\n# Signed configs from the estate (kawasan gateway config ${plant} FILE) replace this one.\nremote_config:\n  public_key: ${publicKey}\n`
  ctx.err.write(
    `Added gateway identity ${username} for plant ${plant} to ${file}. Restart kawasan broker to load it.\n` +
      'The agent config follows on stdout. The password is shown this once; put it in the\n' +
      "gateway's /etc/kawasan/agent.env:\n\n" +
      `KAWASAN_AGENT_PASSWORD=${password}\n\n`,
  )
  ctx.out.write(`${agentConfig.trimEnd()}\n${remote}`)
  return 0
}

/**
 * `kawasan gateway add PLANT`: adds a gateway identity for a plant to the site model (with a fresh
 * random password, stored only as its scrypt hash) and prints the agent config for it and the
 * password, once. `kawasan gateway revoke USERNAME` removes a gateway identity (a stolen or retired
 * gateway). The site model file is edited in place with its comments kept, and validated before it
 * replaces the old one; a `kawasan start` running on this data directory is sent SIGHUP and takes
 * the change at once (its broker closes a revoked gateway's connection).
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import { renderConfigTemplate } from '../../edge-agent/src/config-template.js'
import { publicKeyText } from '../../edge-agent/src/remote-config.js'
import { hashPassword } from '../../shared/password-hash.js'
import type { SiteModel } from '../../shared/site-model.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { readRuntime } from '../stack/data-dir.js'
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
  if (action === 'revoke') return revokeGateway(config, ctx, plant, usageError)
  if (action !== 'add') return usageError(action ? `unknown action "${action}"` : 'add, revoke or config?')
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
  replaceSiteModel(file, doc.toString())

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
    `Added gateway identity ${username} for plant ${plant} to ${file}. ${reloadRunningStack(config)}\n` +
      'The agent config follows on stdout. The password is shown this once; put it in the\n' +
      "gateway's /etc/kawasan/agent.env:\n\n" +
      `KAWASAN_AGENT_PASSWORD=${password}\n\n`,
  )
  ctx.out.write(`${agentConfig.trimEnd()}\n${remote}`)
  return 0
}

async function revokeGateway(
  config: KawasanConfig,
  ctx: CommandContext,
  username: string | undefined,
  usageError: (reason: string) => number,
): Promise<number> {
  if (!username) return usageError('which identity? kawasan gateway revoke USERNAME')
  const file = config.site
  const model = loadSiteModel(file)
  const index = model.identities.findIndex((i) => i.username === username)
  if (index < 0)
    return usageError(
      `identity ${username} is not in the site model ${file} (gateways: ${gatewayNames(model).join(', ') || 'none'})`,
    )
  if (model.identities[index]?.role !== 'gateway')
    return usageError(`identity ${username} is not a gateway: only gateway identities are revoked here`)
  const doc = parseDocument(readFileSync(file, 'utf8'))
  doc.deleteIn(['identities', index])
  replaceSiteModel(file, doc.toString())
  ctx.err.write(`Revoked gateway identity ${username}: removed from ${file}. ${reloadRunningStack(config)}\n`)
  return 0
}

function gatewayNames(model: SiteModel): string[] {
  return model.identities.filter((i) => i.role === 'gateway').map((i) => i.username)
}

/** Validated as a whole before it replaces the file, which is never left half written. */
function replaceSiteModel(file: string, text: string): void {
  const tmp = `${file}.gateway.tmp`
  writeFileSync(tmp, text)
  try {
    loadSiteModel(tmp)
    renameSync(tmp, file)
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** Sends SIGHUP to the `kawasan start` of this data directory, if one runs; says what happened. */
function reloadRunningStack(config: KawasanConfig): string {
  const running = readRuntime(config.dataDir)
  if (running) {
    try {
      process.kill(running.pid, 'SIGHUP')
      return `The running kawasan start (pid ${running.pid}) was sent SIGHUP and has taken the change.`
    } catch {
      // gone between the check and the signal: fall through to the advice
    }
  }
  return 'A kawasan broker takes it on SIGHUP (systemctl reload kawasan-broker) or at its next start.'
}

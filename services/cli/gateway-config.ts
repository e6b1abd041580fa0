/**
 * `kawasan gateway config PLANT FILE`: checks an agent config file with the agent's own schema,
 * signs it with the estate key and publishes it, retained at QoS 1, on the agent's config topic,
 * logged in as the ingest identity (the only one the broker lets publish there). The agent applies
 * it or reports why not in its retained status (edge-agent/src/remote-config.ts).
 */
// First: the MQTT packages must load after it (see there).
import '../../shared/quiet-debug.js'
import { readFileSync } from 'node:fs'
import mqtt from 'mqtt'
import { parseAgentConfig } from '../../edge-agent/src/config.js'
import { publicKeyText, signAgentConfig } from '../../edge-agent/src/remote-config.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { agentConfigTopic } from '../../shared/topics.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'
import { estateSigningKey } from './gateway-signing-key.js'

export async function gatewayConfigCommand(
  config: KawasanConfig,
  ctx: CommandContext,
  usageError: (reason: string) => number,
): Promise<number> {
  const [, plant, file] = ctx.args.positionals
  if (!plant || !file) return usageError('kawasan gateway config PLANT FILE')
  const model = loadSiteModel(config.site)
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return usageError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code})`)
  }
  // The agent's schema, without the environment: what is published is the file alone.
  let cfg: ReturnType<typeof parseAgentConfig>
  try {
    cfg = parseAgentConfig(text, file, { env: {} })
  } catch (err) {
    return usageError((err as Error).message) // the agent's own message: line, field and fix
  }
  if (cfg.cluster !== model.cluster.id || cfg.plant !== plant)
    return usageError(
      `${file} is for ${cfg.cluster}/${cfg.plant}, not ${model.cluster.id}/${plant} of the site model`,
    )
  // Retained on the broker and readable by the estate's subscribers: never a secret in it.
  if (cfg.broker.password !== undefined)
    return usageError(`${file} holds broker.password; remove it (the agent keeps its own)`)
  const key = estateSigningKey(config.dataDir)
  if (cfg.remote_config?.public_key !== publicKeyText(key))
    return usageError(
      `${file} must keep remote_config.public_key: ${publicKeyText(key)} (the agent refuses a config without it)`,
    )
  const rawVersion = ctx.args.values['config-version'] as string | undefined
  const version = rawVersion === undefined ? Date.now() : Number(rawVersion)
  if (!Number.isSafeInteger(version) || version <= 0)
    return usageError('--config-version must be a positive integer')
  const envelope = signAgentConfig(key, {
    cluster: cfg.cluster,
    plant,
    agent_id: cfg.agent_id,
    version,
    config: text,
  })
  const host = config.broker.host === '0.0.0.0' ? '127.0.0.1' : config.broker.host
  const url =
    (ctx.args.values.broker as string | undefined) ??
    config.ingest.url ??
    `mqtt://${host}:${config.broker.port}`
  const topic = agentConfigTopic(cfg.cluster, plant, cfg.agent_id)
  const client = await mqtt.connectAsync(url, {
    username: config.ingest.username ?? 'ingest',
    password: config.ingest.password,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
  })
  try {
    await client.publishAsync(topic, JSON.stringify(envelope), { qos: 1, retain: true })
  } finally {
    await client.endAsync()
  }
  ctx.err.write(
    `Published config version ${version} for ${cfg.cluster}/${plant}/${cfg.agent_id} on ${topic}.\n`,
  )
  ctx.out.write(`${version}\n`)
  return 0
}

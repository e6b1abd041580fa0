/**
 * Remote agent configuration (edge-agent README): the estate signs an agent config with its Ed25519
 * key and publishes it, retained, on the agent's config topic; the agent checks the signature, that
 * the message names its own cluster, plant and agent id, that its version is newer than the one it
 * runs (so a replayed older message is refused), and the config itself with the agent's schema.
 * One envelope format, signed and checked here, so the estate and the agent cannot disagree on it.
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { z } from 'zod'
import { type AgentConfig, type LoadAgentConfigOptions, parseAgentConfig } from './config.js'

/** Largest config message accepted: a config of a few hundred devices fits well within it. */
export const MAX_CONFIG_MESSAGE_BYTES = 256 * 1024

const envelopeSchema = z.strictObject({
  v: z.literal(1),
  cluster: z.string(),
  plant: z.string(),
  agent_id: z.string(),
  /** Strictly increasing per agent; the estate uses the issue time in ms unless told otherwise. */
  version: z.number().int().positive(),
  issued_at: z.number().int().positive(),
  /** The agent config file's text (YAML or JSON), checked with the agent's own schema. */
  config: z.string(),
  sig: z.string(),
})
export type ConfigEnvelope = z.infer<typeof envelopeSchema>
type Unsigned = Omit<ConfigEnvelope, 'sig'>

/** The signed bytes: the fields in a fixed order, so no JSON key ordering question arises. */
function signedBytes(e: Unsigned): Buffer {
  return Buffer.from(
    JSON.stringify([
      'kawasan-agent-config',
      e.v,
      e.cluster,
      e.plant,
      e.agent_id,
      e.version,
      e.issued_at,
      e.config,
    ]),
  )
}

/** The base64 SPKI form of a public key, as it is written in the agent config. */
export function publicKeyText(key: KeyObject): string {
  const pub = key.type === 'public' ? key : createPublicKey(key)
  return pub.export({ type: 'spki', format: 'der' }).toString('base64')
}

export function publicKeyFromText(text: string): KeyObject {
  return createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' })
}

export function privateKeyFromPem(pem: string): KeyObject {
  return createPrivateKey(pem)
}

export function signAgentConfig(
  privateKey: KeyObject,
  fields: Omit<Unsigned, 'v' | 'issued_at'> & { issued_at?: number },
): ConfigEnvelope {
  const unsigned: Unsigned = { v: 1, ...fields, issued_at: fields.issued_at ?? Date.now() }
  return { ...unsigned, sig: sign(null, signedBytes(unsigned), privateKey).toString('base64') }
}

export interface Expected {
  publicKey: KeyObject
  cluster: string
  plant: string
  agentId: string
  /** Version of the config running now (0: the local file). */
  runningVersion: number
  /** Parse options of the local config (its directory for relative paths, the environment). */
  parse: LoadAgentConfigOptions
  /** The running broker password, kept when the new config has none (secrets never travel in it). */
  password?: string | undefined
}

export type CheckResult =
  | { ok: true; envelope: ConfigEnvelope; cfg: AgentConfig }
  | { ok: false; same: true }
  | { ok: false; same?: false; reason: string; version?: number }

/**
 * Checks a config message; never throws. `same` is the config already running (a retained message
 * delivered again on reconnect), which is neither applied nor refused.
 */
export function checkConfigMessage(payload: Buffer, x: Expected): CheckResult {
  const refuse = (reason: string, version?: number): CheckResult => ({ ok: false, reason, version })
  if (payload.length > MAX_CONFIG_MESSAGE_BYTES)
    return refuse(`message of ${payload.length} bytes is over ${MAX_CONFIG_MESSAGE_BYTES}`)
  let raw: unknown
  try {
    raw = JSON.parse(payload.toString('utf8'))
  } catch {
    return refuse('not JSON')
  }
  const parsed = envelopeSchema.safeParse(raw)
  if (!parsed.success) return refuse(`not a config message (${parsed.error.issues[0]?.message ?? 'invalid'})`)
  const e = parsed.data
  let valid = false
  try {
    valid = verify(null, signedBytes(e), x.publicKey, Buffer.from(e.sig, 'base64'))
  } catch {
    valid = false
  }
  if (!valid)
    return refuse('bad signature (not signed by the estate key in remote_config.public_key)', e.version)
  if (e.cluster !== x.cluster || e.plant !== x.plant || e.agent_id !== x.agentId)
    return refuse(
      `signed for agent ${e.cluster}/${e.plant}/${e.agent_id}, this is ${x.cluster}/${x.plant}/${x.agentId}`,
      e.version,
    )
  if (e.version === x.runningVersion) return { ok: false, same: true }
  if (e.version < x.runningVersion)
    return refuse(`version ${e.version} is older than the running ${x.runningVersion} (replayed?)`, e.version)
  let cfg: AgentConfig
  try {
    cfg = parseAgentConfig(e.config, `config version ${e.version}`, x.parse)
  } catch (err) {
    return refuse(`invalid config: ${(err as Error).message.slice(0, 400)}`, e.version)
  }
  cfg.broker.password ??= x.password
  if (cfg.cluster !== x.cluster || cfg.plant !== x.plant || cfg.agent_id !== x.agentId)
    return refuse('the config names another cluster, plant or agent_id than its message', e.version)
  // The estate key is the trust anchor: a remote config may not replace it.
  if (cfg.remote_config?.public_key !== publicKeyText(x.publicKey))
    return refuse('the config must keep remote_config.public_key as it is', e.version)
  return { ok: true, envelope: e, cfg }
}

/** Where an applied remote config is kept: next to the config file. */
export function persistedPath(configFile: string): string {
  return `${configFile}.remote.json`
}

/** Written whole (temporary file and rename), so a power cut leaves the old or the new one. */
export function persistEnvelope(file: string, e: ConfigEnvelope): void {
  const tmp = `${file}.tmp`
  writeFileSync(tmp, `${JSON.stringify(e)}\n`, { mode: 0o640 })
  renameSync(tmp, file)
}

/**
 * At start: the remote config persisted next to the local file, checked again like a message
 * (the key, the agent and the schema of the local file); the local config when there is none.
 */
export function withPersistedRemote(
  local: AgentConfig,
  configFile: string,
  parse: LoadAgentConfigOptions,
): { cfg: AgentConfig; version: number; problem?: string } {
  const key = local.remote_config?.public_key
  if (!key) return { cfg: local, version: 0 }
  let payload: Buffer
  try {
    payload = readFileSync(persistedPath(configFile))
  } catch {
    return { cfg: local, version: 0 }
  }
  const result = checkConfigMessage(payload, {
    publicKey: publicKeyFromText(key),
    cluster: local.cluster,
    plant: local.plant,
    agentId: local.agent_id,
    runningVersion: 0,
    parse,
    password: local.broker.password,
  })
  if (result.ok) return { cfg: result.cfg, version: result.envelope.version }
  const problem = 'reason' in result ? result.reason : 'unknown'
  return { cfg: local, version: 0, problem: `${persistedPath(configFile)} ignored: ${problem}` }
}

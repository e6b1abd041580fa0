/**
 * API keys: a YAML file of hashed keys (scrypt, as MQTT passwords; shared/password-hash.ts). A key
 * reads `kwsn_<id>.<secret>`: the id finds the one record to verify, so a request costs one scrypt
 * at most, and a verified key is then remembered by its SHA-256 so dashboards polling every few
 * seconds do not pay scrypt each time. The file is re-read when it changes on disk, so keys made
 * or revoked with the CLI take effect in a running API within seconds.
 *
 * Key ids must not be told apart by timing (docs/SECURITY.md): an unknown id costs the same scrypt
 * as a known id with a wrong secret (against a fixed decoy hash), and the cache is looked up by the
 * digest of the whole presented key, so a lookup can only hit for someone who holds the key.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import YAML from 'yaml'
import { z } from 'zod'
import { formatIssues } from '../../shared/config-loader.js'
import { KawasanError } from '../../shared/errors.js'
import { hashPassword, verifyPassword } from '../../shared/password-hash.js'
import { ID_PATTERN, ID_RULE } from '../../shared/topics.js'

/** Scopes a key may have (docs/SECURITY.md "Key scopes"): read < editor (one tenant's data entry) < admin. */
export const KEY_SCOPES = ['read', 'editor', 'admin'] as const
export type KeyScope = (typeof KEY_SCOPES)[number]

export const apiKeyRecordSchema = z
  .object({
    id: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`),
    hash: z.string().startsWith('scrypt$', 'must be an scrypt hash'),
    scope: z
      .enum(KEY_SCOPES)
      .describe(
        "read: dashboards and schedulers; editor: one tenant's data entry (manual entries, production); admin: the estate",
      ),
    tenant: z
      .string()
      .regex(ID_PATTERN)
      .optional()
      .describe('Limit the key to the plants of this tenant (site model `tenant`)'),
    label: z.string().max(200).optional(),
    created: z.string().optional(),
  })
  .refine((k) => !(k.scope === 'admin' && k.tenant), {
    message: 'an admin key manages the whole estate and cannot be limited to a tenant',
  })
  // An estate-wide editor would be an admin that cannot manage keys: admin is the estate's writer.
  .refine((k) => k.scope !== 'editor' || k.tenant, {
    message: "an editor key enters one tenant's data and must name its tenant",
  })
export type ApiKeyRecord = z.infer<typeof apiKeyRecordSchema>

const keysFileSchema = z.object({ keys: z.array(apiKeyRecordSchema).default([]) })

const KEY_FORMAT = /^kwsn_([a-z0-9][a-z0-9_-]{0,62})\.([A-Za-z0-9_-]{20,100})$/
/** How often at most the store looks at the file's modification time. */
const RELOAD_CHECK_MS = 2000
/** The hash of a random secret nobody holds, with hashPassword's parameters: what an unknown key id
 * is verified against, so it costs what a known id with a wrong secret costs. */
const DECOY_HASH = 'scrypt$16384$8$1$5I1E3--ixGrGgQwoGzAIFQ$HKZ8iZa9_5qw99DSFaLui3xgq6ni91KMc7K41XayzdA'

export interface AccessKey {
  id: string
  scope: KeyScope
  tenant?: string | undefined
}

export class ApiKeyStore {
  private keys = new Map<string, ApiKeyRecord>()
  /** sha256(presented key) → id and hash it was verified against. */
  private readonly verified = new Map<string, { id: string; hash: string }>()
  private mtimeMs = -1
  private lastCheck = 0

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
    /** The scrypt check (shared/password-hash.ts); a test may wrap it to count the work done. */
    private readonly verifyHash: (secret: string, hash: string) => Promise<boolean> = verifyPassword,
  ) {
    this.reload()
  }

  list(): ApiKeyRecord[] {
    this.reloadIfChanged()
    return [...this.keys.values()]
  }

  /** Creates a key; returns the plain key (shown once, never stored) and its record. */
  async create(options: {
    scope: KeyScope
    tenant?: string | undefined
    label?: string | undefined
    id?: string | undefined
  }): Promise<{ key: string; record: ApiKeyRecord }> {
    this.reload()
    const id = options.id ?? `k${randomBytes(5).toString('hex')}`
    if (this.keys.has(id)) throw new KawasanError('CONFIG_INVALID', `an API key with id "${id}" exists`)
    const secret = randomBytes(24).toString('base64url')
    const key = `kwsn_${id}.${secret}`
    const parsed = apiKeyRecordSchema.safeParse({
      id,
      hash: await hashPassword(key),
      scope: options.scope,
      tenant: options.tenant,
      label: options.label,
      created: new Date(this.now()).toISOString(),
    })
    if (!parsed.success)
      throw new KawasanError('CONFIG_INVALID', formatIssues('API key', parsed.error.issues))
    const record = Object.fromEntries(
      Object.entries(parsed.data).filter(([, v]) => v !== undefined),
    ) as ApiKeyRecord
    this.keys.set(id, record)
    this.save()
    return { key, record }
  }

  /** Removes a key; false when there was none with that id. */
  revoke(id: string): boolean {
    this.reload()
    const had = this.keys.delete(id)
    if (had) this.save()
    return had
  }

  /** The key's access when the key was verified before and is unchanged; no scrypt. */
  verifyCached(presented: string): AccessKey | undefined {
    this.reloadIfChanged()
    const m = KEY_FORMAT.exec(presented)
    if (!m) return undefined
    const cached = this.verified.get(digestOf(presented))
    if (!cached) return undefined
    const record = this.keys.get(m[1]!)
    return record && cached.id === record.id && cached.hash === record.hash ? toAccess(record) : undefined
  }

  /** The key's access, or undefined when the presented key is not a valid, current key. */
  async verify(presented: string): Promise<AccessKey | undefined> {
    const fast = this.verifyCached(presented)
    if (fast) return fast
    const m = KEY_FORMAT.exec(presented)
    if (!m) return undefined // the format is public: refusing it early tells nothing about ids
    // A key created since the last look at the file (`kawasan api-key create`, then a request at
    // once, as the README's scheduler does) was refused for up to RELOAD_CHECK_MS: an unknown id
    // looks at the file now. A stat, next to the scrypt every unknown id costs anyway.
    if (!this.keys.has(m[1]!)) this.reloadIfChanged(true)
    const record = this.keys.get(m[1]!)
    // Same work whether or not the id exists: one scrypt with the same parameters.
    const ok = await this.verifyHash(presented, record?.hash ?? DECOY_HASH)
    if (!record || !ok) return undefined
    if (this.verified.size > 10_000) this.verified.clear()
    this.verified.set(digestOf(presented), { id: record.id, hash: record.hash })
    return toAccess(record)
  }

  /** Reloads the file if it changed; looks at it at most every RELOAD_CHECK_MS unless `force`. */
  private reloadIfChanged(force = false): void {
    const t = this.now()
    if (!force && t - this.lastCheck < RELOAD_CHECK_MS) return
    this.lastCheck = t
    if (fileMtime(this.file) !== this.mtimeMs) this.reload()
  }

  private reload(): void {
    this.lastCheck = this.now()
    const mtime = fileMtime(this.file)
    this.mtimeMs = mtime
    if (mtime < 0) {
      this.keys = new Map()
      return
    }
    const raw = YAML.parse(readFileSync(this.file, 'utf8')) ?? {}
    const parsed = keysFileSchema.safeParse(raw)
    if (!parsed.success)
      throw new KawasanError(
        'CONFIG_INVALID',
        formatIssues(`API keys file ${this.file}`, parsed.error.issues),
      )
    this.keys = new Map(parsed.data.keys.map((k) => [k.id, k]))
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true })
    const tmp = `${this.file}.${process.pid}.tmp`
    const header =
      '# Kawasan API keys: scrypt hashes only (`kawasan api-key create`). Plain keys are shown once.\n'
    writeFileSync(tmp, header + YAML.stringify({ keys: [...this.keys.values()] }), { mode: 0o600 })
    renameSync(tmp, this.file)
    this.mtimeMs = fileMtime(this.file)
  }
}

function digestOf(presented: string): string {
  return createHash('sha256').update(presented).digest('hex')
}

function toAccess(r: ApiKeyRecord): AccessKey {
  return { id: r.id, scope: r.scope, tenant: r.tenant }
}

function fileMtime(file: string): number {
  try {
    return statSync(file).mtimeMs
  } catch {
    return -1
  }
}

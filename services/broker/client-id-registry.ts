/**
 * Binds MQTT client ids to identities (docs/SECURITY.md "Client ids belong to one identity"). A
 * client id decides which live connection a CONNECT takes over and which stored session it resumes
 * ([MQTT-3.1.4-2], [MQTT-3.1.2-4]), so a client id must never pass from one identity to another.
 * Two layers:
 * - namespaces from the site model, stateless (they hold across restarts and broker instances): an
 *   identity's username, a gateway plant's `kawasan-<cluster>-<plant>` (edge agent) and
 *   `sim-<cluster>-<plant>` (simulator), and declared `client_id_prefixes`. An id is in a namespace
 *   when it equals the prefix or continues it with "-"; the longest matching prefix decides.
 * - owners in memory for every other id: the first identity to connect with an id owns it while a
 *   connection holds it or, after a `clean=false` login, while its session may be stored. In-memory
 *   only: after a restart (or on another instance sharing Redis sessions) the next identity to
 *   connect becomes the owner; declared prefixes close that gap. An identity holds at most
 *   `maxIdsPerIdentity` ids at once (live or with a stored session), so the map is bounded.
 */
import type { Identity, SiteIndex } from '../../shared/site-model.js'
import type { RefusalKind } from './refusals.js'

interface Owner {
  username: string
  live: number
  persistent: boolean
}

export type ClaimResult = { ok: true; release: () => void } | { ok: false; kind: RefusalKind; reason: string }

export class ClientIdRegistry {
  /** prefix → usernames allowed to use ids in its namespace, longest prefix first. */
  private namespaces: { prefix: string; owners: Set<string> }[] = []
  private readonly declared = new Map<string, string[]>()
  private readonly owners = new Map<string, Owner>()
  private readonly heldBy = new Map<string, number>() // username → ids it holds

  constructor(
    site: SiteIndex,
    private readonly maxIdsPerIdentity = 1000,
  ) {
    this.useIdentities(site)
  }

  /**
   * Takes the namespaces of a site model's identities (at start, and when identities are reloaded).
   * Ids owned by an identity that is gone are forgotten: nobody can log in as it any more.
   */
  useIdentities(site: SiteIndex): void {
    const byPrefix = new Map<string, Set<string>>()
    const add = (prefix: string, username: string) => {
      const set = byPrefix.get(prefix) ?? new Set<string>()
      set.add(username)
      byPrefix.set(prefix, set)
    }
    this.declared.clear()
    for (const identity of site.model.identities) {
      add(identity.username, identity.username)
      if (identity.role === 'gateway' && identity.plant) {
        add(`kawasan-${site.clusterId}-${identity.plant}`, identity.username)
        add(`sim-${site.clusterId}-${identity.plant}`, identity.username)
      }
      if (identity.client_id_prefixes) {
        for (const p of identity.client_id_prefixes) add(p, identity.username)
        this.declared.set(identity.username, identity.client_id_prefixes)
      }
    }
    this.namespaces = [...byPrefix]
      .map(([prefix, owners]) => ({ prefix, owners }))
      .sort((a, b) => b.prefix.length - a.prefix.length)
    const known = new Set(site.model.identities.map((i) => i.username))
    for (const [clientId, owner] of this.owners)
      if (!known.has(owner.username)) {
        this.owners.delete(clientId)
        this.heldBy.delete(owner.username)
      }
  }

  /**
   * Claims `clientId` for `identity` for one connection; call `release` when its socket closes.
   * `clean` is the CONNECT's clean-session flag: with `clean=false` the broker keeps a session under
   * this id after the connection, and the id stays the identity's.
   */
  claim(clientId: string, identity: Identity, clean: boolean): ClaimResult {
    const username = identity.username
    const ns = this.namespaces.find((n) => inNamespace(clientId, n.prefix))
    if (ns && !ns.owners.has(username))
      return {
        ok: false,
        kind: 'client_id_reserved',
        reason: `client id is in the namespace "${ns.prefix}" of another identity`,
      }
    const declared = this.declared.get(username)
    if (declared && !declared.some((p) => inNamespace(clientId, p)))
      return {
        ok: false,
        kind: 'client_id_not_declared',
        reason: 'client id is not one of the identity’s client_id_prefixes',
      }
    const owner = this.owners.get(clientId)
    if (owner && owner.username !== username)
      return {
        ok: false,
        kind: 'client_id_in_use',
        reason: `client id is held by another identity (${owner.live > 0 ? 'connected' : 'stored session'})`,
      }
    const held = this.heldBy.get(username) ?? 0
    if (!owner && held >= this.maxIdsPerIdentity)
      return {
        ok: false,
        kind: 'client_id_limit',
        reason: `identity already holds ${held} client ids (connected or with a stored session)`,
      }
    if (!owner) this.heldBy.set(username, held + 1)
    const entry = owner ?? { username, live: 0, persistent: false }
    entry.live++
    // A clean login discards the stored session [MQTT-3.1.2-6]; a persistent one keeps it.
    entry.persistent = !clean
    this.owners.set(clientId, entry)
    let released = false
    return {
      ok: true,
      release: () => {
        if (released) return
        released = true
        entry.live--
        if (entry.live <= 0 && !entry.persistent && this.owners.get(clientId) === entry) {
          this.owners.delete(clientId)
          this.heldBy.set(username, (this.heldBy.get(username) ?? 1) - 1)
        }
      },
    }
  }

  /** Owner of an id, for tests and diagnostics. */
  ownerOf(clientId: string): string | undefined {
    return this.owners.get(clientId)?.username
  }

  get size(): number {
    return this.owners.size
  }
}

function inNamespace(clientId: string, prefix: string): boolean {
  return clientId === prefix || (clientId.startsWith(prefix) && clientId[prefix.length] === '-')
}

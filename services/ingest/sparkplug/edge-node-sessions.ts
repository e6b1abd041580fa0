/**
 * What a Sparkplug host application must remember of each edge node between messages (docs/SPARKPLUG.md):
 * the bdSeq of its current session (an NDEATH with another bdSeq is a stale will of an older
 * connection), the last message sequence number (0–255, wrapping), and the metric aliases its NBIRTH
 * and DBIRTH certificates declared. Kept in memory: after an ingest restart every edge node is asked
 * to be born again.
 */

interface Session {
  bdSeq: number | undefined
  seq: number
  nodeAliases: Map<number, string>
  deviceAliases: Map<string, Map<number, string>>
}

export type SequenceCheck =
  | { ok: true }
  | { ok: false; reason: 'no_birth' }
  | { ok: false; reason: 'sequence_gap'; expected: number; got: number | undefined }

/** Sequence numbers run 0..255 and wrap (Sparkplug 3.0, payload `seq`). */
const SEQ_MODULUS = 256

export class EdgeNodeSessions {
  private readonly sessions = new Map<string, Session>()
  private readonly rebirthAskedAt = new Map<string, number>()

  get size(): number {
    return this.sessions.size
  }

  /** NBIRTH: a new session replaces whatever was known of the node. */
  birth(
    node: string,
    bdSeq: number | undefined,
    seq: number | undefined,
    aliases: Map<number, string>,
  ): void {
    this.sessions.set(node, {
      bdSeq,
      seq: seq ?? 0,
      nodeAliases: aliases,
      deviceAliases: new Map(),
    })
    this.rebirthAskedAt.delete(node)
  }

  /** NDEATH: ends the session unless its bdSeq names an older one; true when it ended the session. */
  death(node: string, bdSeq: number | undefined): boolean {
    const session = this.sessions.get(node)
    if (!session) return false
    if (bdSeq !== undefined && session.bdSeq !== undefined && bdSeq !== session.bdSeq) return false
    this.sessions.delete(node)
    return true
  }

  /** Checks and records the sequence number of a message after the NBIRTH (NDATA, DBIRTH, DDATA, DDEATH). */
  advance(node: string, seq: number | undefined): SequenceCheck {
    const session = this.sessions.get(node)
    if (!session) return { ok: false, reason: 'no_birth' }
    const expected = (session.seq + 1) % SEQ_MODULUS
    // Continue from what arrived, so one lost message is reported once, not on every later one.
    if (seq !== undefined) session.seq = seq
    if (seq === expected) return { ok: true }
    return { ok: false, reason: 'sequence_gap', expected, got: seq }
  }

  deviceBirth(node: string, device: string, aliases: Map<number, string>): void {
    this.sessions.get(node)?.deviceAliases.set(device, aliases)
  }

  deviceDeath(node: string, device: string): void {
    this.sessions.get(node)?.deviceAliases.delete(device)
  }

  /** The metric name a BIRTH gave this alias, for the node (device undefined) or one of its devices. */
  alias(node: string, device: string | undefined, alias: number): string | undefined {
    const session = this.sessions.get(node)
    const aliases = device === undefined ? session?.nodeAliases : session?.deviceAliases.get(device)
    return aliases?.get(alias)
  }

  /** True when a rebirth request may go out now: one per node per `intervalMs` until it is born again. */
  mayAskRebirth(node: string, now: number, intervalMs: number): boolean {
    const last = this.rebirthAskedAt.get(node)
    if (last !== undefined && now - last < intervalMs) return false
    this.rebirthAskedAt.set(node, now)
    return true
  }
}

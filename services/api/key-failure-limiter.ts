/**
 * Failed key checks per client address (docs/SECURITY.md). Each unknown key costs one scrypt, so an
 * address that keeps presenting wrong keys is refused with 429 before any scrypt once it has failed
 * `maxFailures` times in `windowMs`. Keyed by address, never by the presented key: a fresh wrong key
 * per request must not get a fresh budget. A key verified before is still served from the cache, so
 * a dashboard behind the same NAT as a guesser keeps working.
 */
export class KeyFailureLimiter {
  /** address → times of recent failures, oldest first. */
  private readonly failures = new Map<string, number[]>()

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Addresses tracked at once; the oldest entry goes first beyond it (memory stays bounded). */
    private readonly maxAddresses = 10_000,
  ) {}

  /** Milliseconds until the address may try again, or 0 when it may try now. */
  retryAfterMs(address: string): number {
    const list = this.recent(address)
    if (list.length < this.maxFailures) return 0
    return list[list.length - this.maxFailures]! + this.windowMs - this.now()
  }

  recordFailure(address: string): void {
    const list = this.recent(address)
    list.push(this.now())
    // Keep only what the decision needs.
    if (list.length > this.maxFailures) list.splice(0, list.length - this.maxFailures)
    this.failures.delete(address) // re-insert: Map order is then least recently failed first
    this.failures.set(address, list)
    if (this.failures.size > this.maxAddresses) this.failures.delete(this.failures.keys().next().value!)
  }

  private recent(address: string): number[] {
    const cutoff = this.now() - this.windowMs
    const list = this.failures.get(address) ?? []
    while (list.length > 0 && list[0]! <= cutoff) list.shift()
    return list
  }
}

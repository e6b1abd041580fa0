/**
 * Slows password guessing without handing a lockout to whoever shares a gateway's address (plant
 * networks are often behind one NAT address; docs/SECURITY.md "Login limiter"):
 * - failures are counted per address AND username: someone else's wrong passwords, even from the
 *   gateway's own address, do not count against the gateway's username;
 * - a much higher per-address threshold bounds spraying across many usernames, and does not apply
 *   to a username that logged in successfully from that address within `knownForMs`;
 * - refusals while blocked are not failures: a client retrying every second is let in once the
 *   failures that caused the block leave the window, instead of extending its own block forever.
 * The password is not checked while blocked (no scrypt work for a blocked guesser).
 */
export interface LoginLimiterOptions {
  /** Failures of one username from one address within the window that block that pair. */
  maxFailuresPerUser: number
  /** Failures from one address within the window (any username) that block new usernames there. */
  maxFailuresPerAddress: number
  windowMs: number
  /** A username that logged in from an address is exempt from that address's block this long. */
  knownForMs: number
}

export const DEFAULT_LOGIN_LIMITER: LoginLimiterOptions = {
  maxFailuresPerUser: 10,
  maxFailuresPerAddress: 100,
  windowMs: 60_000,
  knownForMs: 24 * 3600_000,
}

const MAX_KEYS = 10_000

export type LimiterVerdict = { blocked: false } | { blocked: true; scope: 'address+username' | 'address' }

export class LoginLimiter {
  private readonly failures = new Map<string, number[]>()
  private readonly known = new Map<string, number>() // address+username → last successful login

  constructor(
    private readonly options: LoginLimiterOptions = DEFAULT_LOGIN_LIMITER,
    private readonly now: () => number = Date.now,
  ) {}

  check(address: string, username: string): LimiterVerdict {
    const pair = pairKey(address, username)
    if (this.recent(pair).length >= this.options.maxFailuresPerUser)
      return { blocked: true, scope: 'address+username' }
    const knownAt = this.known.get(pair)
    const isKnown = knownAt !== undefined && this.now() - knownAt < this.options.knownForMs
    if (!isKnown && this.recent(address).length >= this.options.maxFailuresPerAddress)
      return { blocked: true, scope: 'address' }
    return { blocked: false }
  }

  /** A failed password check (never call it for a login refused because it was blocked). */
  recordFailure(address: string, username: string): void {
    this.push(pairKey(address, username))
    this.push(address)
  }

  recordSuccess(address: string, username: string): void {
    const pair = pairKey(address, username)
    this.failures.delete(pair)
    this.known.delete(pair)
    this.known.set(pair, this.now())
    if (this.known.size > MAX_KEYS) this.known.delete(this.known.keys().next().value!)
  }

  private push(key: string): void {
    const list = this.recent(key)
    list.push(this.now())
    this.failures.delete(key) // re-insert so the oldest key is the one evicted
    this.failures.set(key, list)
    if (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!)
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.options.windowMs
    return (this.failures.get(key) ?? []).filter((t) => t > cutoff)
  }
}

function pairKey(address: string, username: string): string {
  return `${address}\0${username}`
}

/**
 * Delays between reconnect attempts: exponential from `minMs` to `maxMs`, each drawn from the upper
 * half of its step ("equal jitter"), so gateways refused together (a broker restart, a login
 * limiter behind one NAT address) do not come back in lockstep, and a gateway refused for hours
 * still tries once a `maxMs` at least. Reset on every accepted connection.
 */
export class ReconnectBackoff {
  private attempt = 0

  constructor(
    readonly minMs: number,
    readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    if (!(minMs > 0) || maxMs < minMs)
      throw new RangeError(`backoff needs 0 < min ≤ max, got ${minMs}, ${maxMs}`)
  }

  /** The delay before the next attempt; each call is one more failed attempt. */
  next(): number {
    const step = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30))
    this.attempt++
    return Math.round(Math.max(this.minMs, step / 2 + (this.random() * step) / 2))
  }

  reset(): void {
    this.attempt = 0
  }
}

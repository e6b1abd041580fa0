/**
 * Slows password guessing: after `maxFailures` failed logins from one address within `windowMs`,
 * further attempts from it are refused without checking the password until the window passes.
 */
export class AuthFailureLimiter {
  private readonly failures = new Map<string, number[]>()

  constructor(
    private readonly maxFailures = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  isBlocked(key: string): boolean {
    return this.recent(key).length >= this.maxFailures
  }

  recordFailure(key: string): void {
    const list = this.recent(key)
    list.push(this.now())
    this.failures.set(key, list)
    if (this.failures.size > 10_000) this.failures.delete(this.failures.keys().next().value!)
  }

  recordSuccess(key: string): void {
    this.failures.delete(key)
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs
    return (this.failures.get(key) ?? []).filter((t) => t > cutoff)
  }
}

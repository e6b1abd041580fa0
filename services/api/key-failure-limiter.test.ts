import { describe, expect, it } from 'vitest'
import { KeyFailureLimiter } from './key-failure-limiter.js'

describe('KeyFailureLimiter', () => {
  it('blocks an address after maxFailures in the window, until the oldest counted failure ages out', () => {
    let now = 0
    const l = new KeyFailureLimiter(3, 60_000, () => now)
    for (let i = 0; i < 3; i++) {
      expect(l.retryAfterMs('a')).toBe(0)
      l.recordFailure('a')
      now += 1000
    }
    expect(l.retryAfterMs('a')).toBe(60_000 - 3000) // the first failure was at 0
    expect(l.retryAfterMs('b')).toBe(0) // another address is not affected
    now = 60_000
    expect(l.retryAfterMs('a')).toBe(0)
  })

  it('tracks a bounded number of addresses, dropping the least recently failed', () => {
    const l = new KeyFailureLimiter(1, 60_000, () => 0, 2)
    l.recordFailure('a')
    l.recordFailure('b')
    l.recordFailure('c')
    expect(l.retryAfterMs('a')).toBe(0)
    expect(l.retryAfterMs('b')).toBeGreaterThan(0)
    expect(l.retryAfterMs('c')).toBeGreaterThan(0)
  })
})

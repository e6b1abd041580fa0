import { describe, expect, it } from 'vitest'
import { LoginLimiter } from './auth-limiter.js'

const options = { maxFailuresPerUser: 3, maxFailuresPerAddress: 10, windowMs: 60_000, knownForMs: 3600_000 }

function limiterAt() {
  const clock = { t: 1_000_000 }
  return { clock, limiter: new LoginLimiter(options, () => clock.t) }
}

describe('login limiter', () => {
  it('blocks one username at one address after its failures, not the other users behind that address', () => {
    const { limiter } = limiterAt()
    for (let i = 0; i < 3; i++) limiter.recordFailure('10.0.0.1', 'gw-plant-a')
    expect(limiter.check('10.0.0.1', 'gw-plant-a')).toEqual({ blocked: true, scope: 'address+username' })
    expect(limiter.check('10.0.0.1', 'gw-plant-b').blocked).toBe(false)
    expect(limiter.check('10.0.0.2', 'gw-plant-a').blocked).toBe(false)
  })

  it('ends a block when its failures leave the window, however often the client retried meanwhile', () => {
    const { clock, limiter } = limiterAt()
    for (let i = 0; i < 3; i++) limiter.recordFailure('10.0.0.1', 'gw-plant-a')
    // Refused retries while blocked are not failures: the caller does not record them.
    for (let s = 0; s < 59; s++) {
      clock.t += 1000
      expect(limiter.check('10.0.0.1', 'gw-plant-a').blocked).toBe(true)
    }
    clock.t += 1001
    expect(limiter.check('10.0.0.1', 'gw-plant-a').blocked).toBe(false)
  })

  it('blocks an address spraying many usernames, except usernames that logged in from it before', () => {
    const { limiter } = limiterAt()
    limiter.recordSuccess('10.0.0.1', 'gw-plant-b')
    for (let i = 0; i < 10; i++) limiter.recordFailure('10.0.0.1', `guess-${i}`)
    expect(limiter.check('10.0.0.1', 'gw-plant-c')).toEqual({ blocked: true, scope: 'address' })
    expect(limiter.check('10.0.0.1', 'gw-plant-b').blocked).toBe(false)
    expect(limiter.check('10.0.0.9', 'gw-plant-c').blocked).toBe(false)
  })

  it('forgets a known username after knownForMs', () => {
    const { clock, limiter } = limiterAt()
    limiter.recordSuccess('10.0.0.1', 'gw-plant-b')
    clock.t += 3600_000
    for (let i = 0; i < 10; i++) limiter.recordFailure('10.0.0.1', `guess-${i}`)
    expect(limiter.check('10.0.0.1', 'gw-plant-b').blocked).toBe(true)
  })
})

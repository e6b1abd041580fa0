import { describe, expect, it } from 'vitest'
import { TimestampCollisions } from './timestamp-collisions.js'

describe('TimestampCollisions', () => {
  it('lets redeliveries through and flags a different reading at a known timestamp', () => {
    const c = new TimestampCollisions()
    expect(c.collides('a/m', 1000, 1)).toBe(false)
    expect(c.collides('a/m', 1000, 1)).toBe(false) // the same reading again (QoS 1 redelivery)
    expect(c.collides('a/m', 1000, 7)).toBe(true) // clock went back: another reading, same time
    expect(c.collides('b/m', 1000, 7)).toBe(false) // other device
  })

  it('forgets the oldest timestamps beyond its bound', () => {
    const c = new TimestampCollisions(2)
    c.collides('d', 1, 1)
    c.collides('d', 2, 2)
    c.collides('d', 3, 3)
    expect(c.collides('d', 1, 9)).toBe(false) // evicted: not seen any more (best effort)
    expect(c.collides('d', 3, 9)).toBe(true)
  })
})

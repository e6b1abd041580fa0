import fc from 'fast-check'
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

  it('never holds a time that is not a finite number (it could not be found again)', () => {
    const c = new TimestampCollisions(2)
    for (let i = 0; i < 100; i++)
      expect(c.collides('d', i % 2 ? Number.NaN : Number.POSITIVE_INFINITY, i)).toBe(false)
    c.collides('d', 5, 1)
    expect(c.collides('d', 5, 2)).toBe(true)
  })
})

/** The plain `Map` version the hash table replaced: the verdicts must stay exactly these. */
class MapReference {
  private readonly devices = new Map<string, { seqByTs: Map<number, number>; ring: number[]; next: number }>()
  constructor(private readonly perDevice: number) {}
  collides(device: string, ts: number, seq: number): boolean {
    let r = this.devices.get(device)
    if (!r) {
      r = { seqByTs: new Map(), ring: [], next: 0 }
      this.devices.set(device, r)
    }
    const known = r.seqByTs.get(ts)
    if (known !== undefined) return known !== seq
    if (r.seqByTs.size >= this.perDevice) r.seqByTs.delete(r.ring[r.next]!)
    r.seqByTs.set(ts, seq)
    r.ring[r.next] = ts
    r.next = (r.next + 1) % this.perDevice
    return false
  }
}

describe('TimestampCollisions against a Map on generated input', () => {
  // Timestamps from a small pool (so they repeat, collide and are evicted while probe runs wrap)
  // and from the whole range a reading may carry; seqs from a small pool (redeliveries).
  const ts = fc.oneof(
    fc.integer({ min: 0, max: 40 }).map((i) => 1_767_225_600_000 + i * 1000),
    fc.integer({ min: 1, max: 64 }),
    fc.maxSafeInteger().filter((n) => n > 0),
    fc.constantFrom(2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 4294967295),
  )
  const op = fc.record({ device: fc.constantFrom('a/m1', 'a/m2'), ts, seq: fc.integer({ min: 0, max: 3 }) })

  it('gives the same verdict for every reading, through growth and eviction', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 600 }), (perDevice, ops) => {
        const fast = new TimestampCollisions(perDevice)
        const reference = new MapReference(perDevice)
        for (const o of ops)
          expect(fast.collides(o.device, o.ts, o.seq)).toBe(reference.collides(o.device, o.ts, o.seq))
      }),
      { numRuns: 2000 },
    )
  })

  it('keeps agreeing over a long run at the default bound (4096 per device)', () => {
    const fast = new TimestampCollisions()
    const reference = new MapReference(4096)
    let differ = 0
    let collisions = 0
    // A clock that runs forward and now and then jumps back over timestamps still held.
    let clock = 1_767_225_600_000
    for (let i = 0; i < 60_000; i++) {
      clock += i % 997 === 0 ? -500_000 : 1000
      const seq = i % 5 === 0 ? i - 1 : i
      const verdict = reference.collides('p/d', clock, seq)
      if (verdict) collisions++
      if (fast.collides('p/d', clock, seq) !== verdict) differ++
    }
    expect(collisions).toBeGreaterThan(100)
    expect(differ).toBe(0)
  })
})

import { describe, expect, it } from 'vitest'
import { ClockDiscipline } from '../src/clock-discipline.js'

/** Injected clocks: `real` is estate time, the gateway's wall clock is real + skew, mono counts from 0. */
function clocks(skew: number) {
  const c = { real: Date.UTC(2026, 10, 23, 12), skew, mono: 0 }
  const advance = (ms: number) => {
    c.real += ms
    c.mono += ms
  }
  const d = new ClockDiscipline({ wall: () => c.real + c.skew, mono: () => c.mono })
  /** One request answered by the time service after `rtt` ms, stamped at the midpoint. */
  const exchange = (rtt: number) => {
    const req = JSON.parse(d.request()) as { n: number }
    advance(rtt / 2)
    const ts = c.real
    advance(rtt / 2)
    return d.onReply(JSON.stringify({ n: req.n, ts }))
  }
  return { c, d, advance, exchange }
}

describe('ClockDiscipline', () => {
  it('measures a clock 10 minutes ahead within half the round trip and stamps samples on the estate clock', () => {
    const { c, d, advance, exchange } = clocks(600_000)
    expect(d.stamp()).toEqual({ now: c.real + 600_000 }) // unknown yet: the gateway's own clock
    expect(exchange(40)).toBe(true)
    advance(1000)
    const s = d.stamp()
    expect(s.offsetMs).toBe(-600_000)
    expect(Math.abs(s.now - c.real)).toBeLessThanOrEqual(20)
    expect(d.state()).toMatchObject({ offsetMs: -600_000, errorMs: 20, correcting: true, jumps: 0 })
  })

  it('leaves a clock within correctAboveMs alone: no correction, no flag', () => {
    const { c, d, exchange } = clocks(300)
    exchange(10)
    expect(d.stamp()).toEqual({ now: c.real + 300 })
    expect(d.offsetMs()).toBe(-300)
    expect(d.state().correcting).toBe(false)
  })

  it('keeps stamping estate time across a wall-clock reset to 2000-01-01, counts the step and asks again', () => {
    const { c, d, advance, exchange } = clocks(0)
    let asked = 0
    d.onJump = () => asked++
    exchange(10)
    d.stamp()
    advance(1000)
    c.skew = Date.UTC(2000, 0, 1) - c.real // the RTC reset
    advance(1000)
    const s = d.stamp()
    expect(Math.abs(s.now - c.real)).toBeLessThanOrEqual(5)
    expect(s.offsetMs).toBeGreaterThan(26 * 365 * 86_400_000)
    expect(d.state().jumps).toBe(1)
    expect(asked).toBe(1)
  })

  it('ignores replies it did not ask for, malformed ones and ones after too long a round trip', () => {
    const { d, exchange } = clocks(600_000)
    expect(d.onReply('{"n":99,"ts":1}')).toBe(false)
    expect(d.onReply('not json')).toBe(false)
    expect(d.onReply('{"n":"1","ts":1}')).toBe(false)
    expect(exchange(6000)).toBe(false)
    expect(d.offsetMs()).toBeUndefined()
  })
})

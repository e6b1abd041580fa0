/**
 * The benchmarks' steal figure (infra/local/machine-steal.ts): read from /proc/stat's first line,
 * and on this Linux machine a share between 0 and 100.
 */
import { describe, expect, it } from 'vitest'
import { cpuTicks, stealSince } from '../../infra/local/machine-steal.js'

describe('machine steal', () => {
  it("reads the all-CPU line's total and steal ticks, guest columns left out", () => {
    // user nice system idle iowait irq softirq steal guest guest_nice
    expect(cpuTicks('cpu  476070 908 57677 4507879 3986 0 7374 28874 1000 0')).toEqual({
      total: 476070 + 908 + 57677 + 4507879 + 3986 + 0 + 7374 + 28874,
      steal: 28874,
    })
  })

  it('refuses a line that is not the all-CPU line or is short', () => {
    expect(cpuTicks('cpu0 1 2 3 4 5 6 7 8')).toBeUndefined()
    expect(cpuTicks('cpu  1 2 3 4')).toBeUndefined()
    expect(cpuTicks('cpu  1 2 3 4 5 6 7 x')).toBeUndefined()
  })

  it('answers a share of the machine between 0 and 100 once time has passed', async () => {
    const steal = stealSince()
    const until = Date.now() + 300
    while (Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    const pct = steal()
    expect(pct).toBeTypeOf('number')
    expect(pct).toBeGreaterThanOrEqual(0)
    expect(pct).toBeLessThanOrEqual(100)
  })
})

import { describe, expect, it } from 'vitest'
import { AlertState, type Observation } from './alert-state.js'

const obs = (subject: string, active: boolean): Observation => ({
  rule: 'r',
  kind: 'device_offline',
  subject,
  active,
  value: 1,
  threshold: 0,
  summary: subject,
})
const rules = new Set(['r'])

describe('alert state', () => {
  it('fires once while a condition holds and resolves once when it clears', () => {
    const s = new AlertState()
    expect(s.update([obs('a', false)], rules, 0)).toEqual([])
    expect(s.update([obs('a', true)], rules, 1000).map((e) => e.status)).toEqual(['firing'])
    expect(s.update([obs('a', true)], rules, 2000)).toEqual([])
    const [resolved] = s.update([obs('a', false)], rules, 3000)
    expect(resolved).toMatchObject({
      status: 'resolved',
      starts_at: new Date(1000).toISOString(),
      ends_at: new Date(3000).toISOString(),
    })
    expect(s.update([obs('a', false)], rules, 4000)).toEqual([])
    expect(s.size).toBe(0)
  })

  it('changes nothing for a rule whose read failed, and resolves a subject its rule no longer reports', () => {
    const s = new AlertState()
    s.update([obs('a', true), obs('b', true)], rules, 0)
    expect(s.update([], new Set(), 1000)).toEqual([]) // the store was down: no resolve, no re-fire
    expect(s.update([obs('a', true)], rules, 2000)).toMatchObject([
      { status: 'resolved', subject: 'b', kind: 'device_offline' },
    ])
  })

  it('continues from restored firing alerts: no second firing, resolved with the original starts_at', () => {
    const s = new AlertState()
    s.update([obs('b', false)], rules, 1000)
    const [fired] = s.update([obs('b', true)], rules, 2000)
    const restored = new AlertState()
    restored.restore([fired!])
    expect(restored.update([obs('b', true)], rules, 3000)).toEqual([])
    expect(restored.update([obs('b', false)], rules, 4000)).toMatchObject([
      {
        status: 'resolved',
        subject: 'b',
        starts_at: new Date(2000).toISOString(),
        ends_at: new Date(4000).toISOString(),
      },
    ])
    expect(restored.size).toBe(0)
  })
})

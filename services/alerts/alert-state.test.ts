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

  it('lists what fires now, oldest first, with the latest observed value (GET /api/v1/alerts)', () => {
    const s = new AlertState()
    s.update([obs('a', true)], rules, 0)
    s.update([obs('a', true), { ...obs('b', true), value: 7 }], rules, 1000)
    s.update([{ ...obs('a', true), value: 9, summary: 'a now' }, obs('b', true)], rules, 2000)
    expect(s.active()).toMatchObject([
      { status: 'firing', subject: 'a', value: 9, summary: 'a now', starts_at: new Date(0).toISOString() },
      { status: 'firing', subject: 'b', value: 1, starts_at: new Date(1000).toISOString(), ends_at: null },
    ])
    s.update([obs('a', false), obs('b', true)], rules, 3000)
    expect(s.active().map((e) => e.subject)).toEqual(['b'])
  })
})

import { describe, expect, it } from 'vitest'
import { AgentStatusStore } from './agent-status-store.js'

const topic = (plant: string, device: string) => `kawasan/v1/cikarang/${plant}/${device}/status`
const body = (o: object) => Buffer.from(JSON.stringify(o))

describe('AgentStatusStore', () => {
  it('merges a device status with its agent: buffer depth from the agent, offline while the agent is', () => {
    const s = new AgentStatusStore()
    s.update(topic('plant-a', 'agent'), body({ state: 'online', version: '0.1.0', buffer_depth: 42 }))
    s.update(topic('plant-a', 'grid-main'), body({ state: 'online', version: '0.1.0' }))
    expect(s.get('plant-a', 'grid-main')).toMatchObject({ state: 'online', buffer_depth: 42 })
    s.update(topic('plant-a', 'agent'), body({ state: 'offline' })) // the last will (REL-14)
    expect(s.get('plant-a', 'grid-main')?.state).toBe('offline')
    expect(s.get('plant-b', 'grid-main')).toBeUndefined()
  })

  it('ignores telemetry, bad JSON and wrong shapes, and forgets a cleared retained status', () => {
    const s = new AgentStatusStore()
    expect(s.update('kawasan/v1/cikarang/plant-a/grid-main/telemetry', body({ state: 'online' }))).toBe(false)
    expect(s.update(topic('plant-a', 'grid-main'), Buffer.from('{'))).toBe(false)
    expect(s.update(topic('plant-a', 'grid-main'), body({ state: 'sleeping' }))).toBe(false)
    s.update(topic('plant-a', 'grid-main'), body({ state: 'online' }))
    s.update(topic('plant-a', 'grid-main'), Buffer.alloc(0))
    expect(s.get('plant-a', 'grid-main')).toBeUndefined()
  })

  it("gives each device its agent's drops and clock offset, and its own unreadable values, never the agent's sum", () => {
    const s = new AgentStatusStore()
    s.update(
      topic('plant-a', 'agent'),
      body({ state: 'online', buffer_depth: 3, dropped: 120, unreadable: 9, clock_offset_ms: -600_012 }),
    )
    s.update(topic('plant-a', 'pv-roof'), body({ state: 'online', unreadable: 9 }))
    s.update(topic('plant-a', 'grid-main'), body({ state: 'online', dropped: 1 }))
    expect(s.get('plant-a', 'pv-roof')).toMatchObject({
      dropped: 120,
      unreadable: 9,
      clock_offset_ms: -600_012,
    })
    expect(s.get('plant-a', 'grid-main')).toMatchObject({ dropped: 120 })
    expect(s.get('plant-a', 'grid-main')?.unreadable).toBeUndefined()
  })
})

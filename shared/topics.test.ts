import { describe, expect, it } from 'vitest'
import { parseDeviceTopic, parseTimeRequestTopic, statusTopic, telemetryTopic } from './topics.js'

describe('topics', () => {
  it('builds and parses device topics symmetrically', () => {
    expect(parseDeviceTopic(telemetryTopic('c1', 'p1', 'd1'))).toEqual({
      cluster: 'c1',
      plant: 'p1',
      device: 'd1',
      kind: 'telemetry',
    })
    expect(parseDeviceTopic(statusTopic('c1', 'p1', 'd1'))?.kind).toBe('status')
  })

  it.each([
    'kawasan/v1/c/p/d',
    'kawasan/v2/c/p/d/telemetry',
    'kawasan/v1/c/p/d/telemetry/x',
    'kawasan/v1/C/p/d/telemetry',
    'kawasan/v1/c/p/d e/telemetry',
    'kawasan/v1/c//d/telemetry',
    '$SYS/x/y/z/w/v',
  ])('rejects %s', (topic) => {
    expect(parseDeviceTopic(topic)).toBeUndefined()
  })
})

describe('parseDeviceTopic, remembered', () => {
  it('answers a repeated topic as the first time, read-only, beyond its bound too', () => {
    const t = 'kawasan/v1/cikarang/plant-a/meter-1/telemetry'
    const first = parseDeviceTopic(t)
    expect(first).toEqual({ cluster: 'cikarang', plant: 'plant-a', device: 'meter-1', kind: 'telemetry' })
    expect(Object.isFrozen(first)).toBe(true)
    // 12,000 other topics (valid and not) pass through the bounded memory.
    for (let i = 0; i < 12_000; i++) {
      const other = i % 2 ? `kawasan/v1/c/p/d${i}/status` : `kawasan/v1/c/p/d ${i}/status`
      expect(parseDeviceTopic(other)?.device).toBe(i % 2 ? `d${i}` : undefined)
    }
    expect(parseDeviceTopic(t)).toEqual(first)
    expect(parseDeviceTopic('kawasan/v1/cikarang/plant-a/meter-1/time')).toBeUndefined()
    expect(parseDeviceTopic('kawasan/v1/cikarang/plant-a/meter-1/time')).toBeUndefined()
    expect(parseTimeRequestTopic('kawasan/v1/cikarang/plant-a/agent/time')).toEqual({
      cluster: 'cikarang',
      plant: 'plant-a',
      agent: 'agent',
    })
    expect(parseTimeRequestTopic('kawasan/v1/cikarang/plant-a/agent/time/reply')).toBeUndefined()
  })
})

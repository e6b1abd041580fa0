import { describe, expect, it } from 'vitest'
import { parseDeviceTopic, statusTopic, telemetryTopic } from './topics.js'

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

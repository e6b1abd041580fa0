import { describe, expect, it } from 'vitest'
import { exampleSite } from '../../test/helpers/site.js'
import { validateTelemetry } from './validate-message.js'

const site = exampleSite()
const NOW = Date.UTC(2026, 10, 23, 12)
const topic = 'kawasan/v1/cikarang/plant-a/grid-main/telemetry'
const run = (body: unknown, t = topic) =>
  validateTelemetry(t, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), site, NOW)

describe('validateTelemetry', () => {
  it('turns a valid message into points tagged from the topic and the site model, never from the payload', () => {
    const r = run({ v: 1, seq: 5, readings: [{ ts: NOW - 1000, m: { p_kw: 10, e_kwh: 99 } }] })
    expect(r.deadLetters).toEqual([])
    expect(r.points).toEqual([
      {
        measurement: 'readings',
        tags: { cluster: 'cikarang', plant: 'plant-a', device: 'grid-main', role: 'grid_import' },
        fields: { p_kw: 10, e_kwh: 99, seq: { int: 5 } },
        time: NOW - 1000,
      },
    ])
    expect(r.source).toEqual({ cluster: 'cikarang', plant: 'plant-a', device: 'grid-main', seq: 5, count: 1 })
  })

  it.each([
    ['bad_json', '{"v":1,'],
    ['bad_envelope', { v: 2, seq: 1, readings: [{ ts: 1, m: {} }] }],
    ['bad_envelope', { v: 1, seq: -1, readings: [] }],
    ['bad_envelope', [1, 2, 3]],
  ])('rejects the whole message as %s when the envelope is unreadable', (reason, body) => {
    const r = run(body)
    expect(r.points).toEqual([])
    expect(r.deadLetters.map((d) => d.reason)).toEqual([reason])
  })

  it('rejects unknown topics and devices before parsing the payload', () => {
    expect(run('{}', 'kawasan/v1/cikarang/plant-a/grid-main/other').deadLetters[0]?.reason).toBe(
      'unknown_topic',
    )
    expect(run('{}', 'kawasan/v1/cikarang/plant-z/grid-main/telemetry').deadLetters[0]?.reason).toBe(
      'unknown_device',
    )
    expect(run('{}', 'kawasan/v1/elsewhere/plant-a/grid-main/telemetry').deadLetters[0]?.reason).toBe(
      'unknown_device',
    )
  })

  it('refuses a payload over the size limit without parsing it, keeping only a short excerpt', () => {
    const r = run('x'.repeat(300 * 1024))
    expect(r.deadLetters[0]?.reason).toBe('payload_too_large')
    expect(r.deadLetters[0]!.excerpt.length).toBeLessThanOrEqual(257)
  })

  it('judges each reading and each metric on its own', () => {
    const r = run({
      v: 1,
      seq: 9,
      readings: [
        { ts: NOW, m: { p_kw: 1, v_v: -5, mystery: 3, pf: 'high' } },
        { ts: NOW + 3_600_000, m: { p_kw: 2 } },
        { ts: 'soon', m: { p_kw: 3 } },
        { ts: NOW - 5, m: { p_kw: 4 }, unsync: true },
      ],
    })
    expect(r.points.map((p) => p.fields)).toEqual([
      { p_kw: 1, seq: { int: 9 } },
      { p_kw: 4, seq: { int: 12 }, unsync: true }, // the fourth reading: seq 9 + 3
    ])
    expect(r.deadLetters.map((d) => d.reason).sort()).toEqual([
      'bad_reading',
      'bad_value',
      'future_timestamp',
      'implausible_value',
      'unknown_metric',
    ])
    expect(r.deadLetters.every((d) => d.plant === 'plant-a' && d.device === 'grid-main')).toBe(true)
  })

  it('rejects non-finite numbers smuggled as huge literals', () => {
    const r = run('{"v":1,"seq":1,"readings":[{"ts":1790000000000,"m":{"p_kw":1e400}}]}')
    expect(r.deadLetters.map((d) => d.reason)).toEqual(['implausible_value'])
  })
})

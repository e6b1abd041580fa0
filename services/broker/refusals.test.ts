import { pino } from 'pino'
import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { RefusalRecorder } from './refusals.js'

function recorder() {
  const lines: Record<string, unknown>[] = []
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) })
  const clock = { t: 0 }
  const metrics = new Registry()
  return { lines, clock, metrics, rec: new RefusalRecorder(metrics, log, 60_000, () => clock.t) }
}

const count = async (metrics: Registry, kind: string) =>
  (await metrics.getSingleMetric('kawasan_broker_refusals_total')!.get()).values.find(
    (v) => v.labels.kind === kind,
  )?.value

describe('refusal recorder', () => {
  it('counts every refusal but logs a kind once per identity and address per minute, with the skipped count', async () => {
    const { lines, clock, metrics, rec } = recorder()
    for (let i = 0; i < 100; i++) rec.refuse('login_blocked', { identity: 'gw-plant-b', address: '10.0.0.1' })
    rec.refuse('login_blocked', { identity: 'gw-plant-b', address: '10.0.0.2' })
    rec.refuse('client_id_reserved', { identity: 'gw-plant-a', address: '10.0.0.1', reason: 'x' })
    expect(await count(metrics, 'login_blocked')).toBe(101)
    expect(await count(metrics, 'oversize_packet')).toBe(0) // every kind is exported from the start
    expect(lines.map((l) => [l.kind, l.address])).toEqual([
      ['login_blocked', '10.0.0.1'],
      ['login_blocked', '10.0.0.2'],
      ['client_id_reserved', '10.0.0.1'],
    ])
    clock.t += 60_000
    rec.refuse('login_blocked', { identity: 'gw-plant-b', address: '10.0.0.1' })
    expect(lines.at(-1)).toMatchObject({
      kind: 'login_blocked',
      identity: 'gw-plant-b',
      notLoggedSinceLast: 99,
    })
  })
})

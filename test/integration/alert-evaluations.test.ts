/**
 * The lease holder's last evaluation (`evaluated_at` of GET /api/v1/alerts) on a real InfluxDB:
 * found however long ago it was, never a standby's, and per cluster. The store looks for it in
 * widening windows back from now (docs/ALERTS.md), so each window's edge is crossed here.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { AlertStore, type Evaluation } from '../../services/alerts/alert-store.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { freshDatabase } from '../helpers/influx.js'

const DAY = 86_400_000
const NOW = Date.UTC(2026, 11, 1, 12)
const databases: InfluxClient[] = []
afterAll(async () => {
  await Promise.all(databases.map((db) => db.queryAll(`DROP DATABASE "${db.database}"`)))
})

async function store(cluster = 'demo'): Promise<{ store: AlertStore; db: InfluxClient }> {
  const db = await freshDatabase('alert_evaluations')
  databases.push(db)
  return { store: new AlertStore(db, cluster), db }
}

const evaluation = (time: number, evaluator: string, leader: boolean): Evaluation => ({
  time,
  evaluator,
  startedAt: time - DAY,
  leader,
  ok: true,
  stopped: false,
})

describe('last evaluation of the lease holder', () => {
  it('is null where alerts never ran', async () => {
    const { store: s } = await store()
    expect(await s.lastEvaluation(NOW)).toBeNull()
  })

  it.each([
    ['an hour', DAY / 24],
    ['two days', 2 * DAY],
    ['forty days', 40 * DAY],
    ['two years', 730 * DAY],
  ])('is found %s back, past a standby that evaluated since', async (_, ago) => {
    const { store: s } = await store()
    await s.recordEvaluation(evaluation(NOW - ago - 60_000, 'leader-a', true))
    await s.recordEvaluation(evaluation(NOW - ago, 'leader-b', true))
    await s.recordEvaluation(evaluation(NOW - 1000, 'standby', false))
    const last = await s.lastEvaluation(NOW)
    expect(last).toMatchObject({ time: NOW - ago, evaluator: 'leader-b', leader: true })
  })

  it("takes the newest leader's, not an older one in a wider window", async () => {
    const { store: s } = await store()
    await s.recordEvaluation(evaluation(NOW - 400 * DAY, 'old', true))
    await s.recordEvaluation(evaluation(NOW - 3 * DAY, 'recent', true))
    expect((await s.lastEvaluation(NOW))?.evaluator).toBe('recent')
  })

  it("never returns another cluster's", async () => {
    const { store: a, db } = await store('estate-a')
    const b = new AlertStore(db, 'estate-b')
    await b.recordEvaluation(evaluation(NOW - 1000, 'b-leader', true))
    await a.recordEvaluation(evaluation(NOW - 50 * DAY, 'a-leader', true))
    expect((await a.lastEvaluation(NOW))?.evaluator).toBe('a-leader')
    expect((await b.lastEvaluation(NOW))?.evaluator).toBe('b-leader')
  })
})

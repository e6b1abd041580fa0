/**
 * The lease holder's last evaluation (`evaluated_at` of GET /api/v1/alerts) on a real InfluxDB:
 * found however long ago it was, never a standby's, and per cluster. The store looks for it in
 * widening windows back from now (docs/ALERTS.md), so each window's edge is crossed here.
 * Evaluations older than `evaluationsKeepDays` are deleted by the lease holder, once an hour.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { AlertStore, type Evaluation } from '../../services/alerts/alert-store.js'
import { AlertService, PRUNE_EVERY_MS } from '../../services/alerts/app.js'
import { alertsConfigSchema } from '../../services/alerts/config.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { silentLogger } from '../../shared/logger.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'

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

describe('old evaluations', () => {
  it("are deleted by the lease holder, once an hour, beyond evaluationsKeepDays, and only its cluster's", async () => {
    const site = exampleSite()
    const { store: s, db } = await store(site.clusterId)
    const other = new AlertStore(db, 'another-estate')
    await s.recordEvaluation(evaluation(NOW - 40 * DAY, 'old-leader', true))
    await s.recordEvaluation(evaluation(NOW - 11 * DAY, 'old-standby', false))
    await s.recordEvaluation(evaluation(NOW - 9 * DAY, 'recent-standby', false))
    await other.recordEvaluation(evaluation(NOW - 40 * DAY, 'elsewhere', true))
    let now = NOW
    const alerts = new AlertService({
      config: alertsConfigSchema.parse({ enabled: true, evaluationsKeepDays: 10 }),
      site,
      influx: db,
      log: silentLogger(),
      now: () => now,
      evaluator: 'leader',
    })
    const evaluators = async (cluster: string) =>
      (
        await db.query(
          `SELECT "leader" FROM alert_evaluations WHERE "cluster" = '${cluster}' GROUP BY "evaluator"`,
        )
      )
        .map((x) => x.tags.evaluator)
        .sort()

    await alerts.evaluate()
    expect(alerts.leading).toBe(true)
    expect(await evaluators(site.clusterId)).toEqual(['leader', 'recent-standby'])
    expect(await evaluators('another-estate')).toEqual(['elsewhere'])
    expect((await s.lastEvaluation(NOW))?.evaluator).toBe('leader')

    // Within the hour nothing more is deleted; an hour on, what has aged past 10 days is.
    await s.recordEvaluation(evaluation(NOW - 20 * DAY, 'late-write', false))
    now = NOW + PRUNE_EVERY_MS / 2
    await alerts.evaluate()
    expect(await evaluators(site.clusterId)).toEqual(['late-write', 'leader', 'recent-standby'])
    now = NOW + PRUNE_EVERY_MS
    await alerts.evaluate()
    expect(await evaluators(site.clusterId)).toEqual(['leader', 'recent-standby'])
    expect(await countPoints(db, 'alert_evaluations', 'leader', `"evaluator" = 'leader'`)).toBe(3)
    await alerts.stop()
  })
})

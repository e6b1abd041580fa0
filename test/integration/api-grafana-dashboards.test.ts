/**
 * The Grafana dashboards (infra/grafana) read the same storage contract as the API: every field
 * they name exists in shared/rollup-record.ts, and every InfluxQL query in them runs on a real
 * InfluxDB seeded like the API tests (Grafana's macros replaced as Grafana would) and returns data.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { LIVE_FIELDS, ROLLUP_NUMBER_FIELDS } from '../../shared/rollup-record.js'
import { freshDatabase } from '../helpers/influx.js'
import { exampleSite } from '../helpers/site.js'
import { seedDeadLetters, seedReadings, seedRollupDay, writeLive } from './api-fixture.js'

const DIR = 'infra/grafana/dashboards'
const site = exampleSite()
const KNOWN = new Set<string>([...LIVE_FIELDS, ...ROLLUP_NUMBER_FIELDS, 'seq'])

interface Target {
  query: string
}
interface Panel {
  title: string
  targets?: Target[]
}
const dashboards = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, json: JSON.parse(readFileSync(`${DIR}/${file}`, 'utf8')) as { panels: Panel[] } }))
const queries = dashboards.flatMap(({ file, json }) =>
  json.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ name: `${file}: ${p.title}`, query: t.query }))),
)

function expand(q: string): string {
  return q
    .replaceAll('$timeFilter', 'time > now() - 7d')
    .replaceAll('$__interval', '1m')
    .replaceAll('$cluster', site.clusterId)
    .replaceAll('$plant', 'plant-a')
}

let influx: InfluxClient
beforeAll(async () => {
  influx = await freshDatabase('grafana')
  const now = Date.now()
  const today = new Date(now).toISOString().slice(0, 10)
  await seedRollupDay(influx, site.model, today)
  await writeLive(influx, site.model, now - 60_000, 900)
  await writeLive(influx, site.model, now - 3000, 1000)
  await seedReadings(influx, site.clusterId, now)
  await seedDeadLetters(influx, site.clusterId, now)
  // A minute rollup for the plant sources panel.
  const lines = [0, 1, 2].map(
    (i) =>
      `rollup_1m,cluster=${site.clusterId},plant=plant-a grid_import_kwh=${20 + i},gen_solar_pv_kwh=5 ${(now - (3 - i) * 60_000) * 1e6}`,
  )
  await influx.writeLines(lines)
})

describe('Grafana dashboards', () => {
  it('have panels with queries, on the kawasan-influxdb data source', () => {
    expect(dashboards.map((d) => d.file).sort()).toEqual(['kawasan-cluster.json', 'kawasan-plant.json'])
    expect(queries.length).toBeGreaterThan(10)
    const provisioning = readFileSync('infra/grafana/provisioning/datasources/influxdb.yaml', 'utf8')
    expect(provisioning).toContain('uid: kawasan-influxdb')
  })

  it('name only fields of the storage contract', () => {
    for (const { name, query } of queries) {
      for (const m of query.matchAll(/(?:mean|last)\("([a-z0-9_]+)"\)/g))
        expect(KNOWN.has(m[1]!), `${name}: ${m[1]}`).toBe(true)
    }
  })

  it.each(queries)('runs "$name" on a real InfluxDB and gets data', async ({ query }) => {
    const series = await influx.query(expand(query))
    expect(series.length).toBeGreaterThan(0)
    expect(series[0]!.rows.length).toBeGreaterThan(0)
  })
})

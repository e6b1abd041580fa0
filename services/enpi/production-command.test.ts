/**
 * `kawasan production import FILE` as an operator types it (docs/ENPI.md "Production quantities"): a real process on a real InfluxDB. A
 * file with bad rows is refused whole (each line on stderr, nothing stored); the fixed file lands
 * with its source and actor.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { runKawasan } from '../../test/helpers/kawasan-process.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-cli-production-'))
const env = { KAWASAN_DATA_DIR: dataDir, INFLUX_URL: inject('influxUrl'), INFLUX_DATABASE: 'cli_production' }
const influx = new InfluxClient({ url: inject('influxUrl'), database: 'cli_production' })

afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true })
  await influx.queryAll('DROP DATABASE "cli_production"')
})

const count = async () =>
  Number((await influx.query('SELECT count("quantity") FROM "production"'))[0]?.rows[0]?.count ?? 0)

describe('kawasan production import', () => {
  it('refuses a file with bad rows whole, then imports the fixed file', async () => {
    const bad = join(dataDir, 'bad.csv')
    writeFileSync(bad, 'plant,date,quantity,unit\nplant-a,2026-02-01,80,t\nplant-a,2026-02-02,lots,t\n')
    const refused = await runKawasan(['production', 'import', bad], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('line 3: quantity must be a number')
    expect(refused.stderr).toContain('nothing was stored [PRODUCTION_INVALID]')
    await influx.createDatabase()
    expect(await count()).toBe(0)

    const good = join(dataDir, 'february.csv')
    writeFileSync(good, 'date,plant,unit,quantity\n2026-02-01,plant-a,t,80\n2026-02-02,plant-b,m3,12.5\n')
    const ok = await runKawasan(['production', 'import', good], env)
    expect(ok.stderr).toContain('imported 2 production row(s) from february.csv')
    expect(ok.code).toBe(0)
    const rows = (await influx.query('SELECT * FROM "production"'))[0]?.rows ?? []
    expect(rows.map((r) => [r.plant, r.quantity, r.unit, r.actor, r.source])).toEqual([
      ['plant-a', 80, 't', 'cli', 'file:february.csv'],
      ['plant-b', 12.5, 'm3', 'cli', 'file:february.csv'],
    ])

    const usage = await runKawasan(['production', 'export', good], env)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('unknown action "export"')
  })
})

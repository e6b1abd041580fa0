/**
 * `kawasan temperature import FILE` as an operator types it (docs/ENPI.md "Cooling degree days"): a real process on a real InfluxDB. A
 * file with bad rows is refused whole (each line on stderr with TEMPERATURE_INVALID, nothing
 * stored); the fixed file, with an estate-wide row under `shared`, lands with its source and actor.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { runKawasan } from '../../test/helpers/kawasan-process.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-cli-temperature-'))
const env = { KAWASAN_DATA_DIR: dataDir, INFLUX_URL: inject('influxUrl'), INFLUX_DATABASE: 'cli_temperature' }
const influx = new InfluxClient({ url: inject('influxUrl'), database: 'cli_temperature' })

afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true })
  await influx.queryAll('DROP DATABASE "cli_temperature"')
})

const count = async () =>
  Number(
    (await influx.query('SELECT count("mean_temp_c") FROM "outdoor_temperature"'))[0]?.rows[0]?.count ?? 0,
  )

describe('kawasan temperature import', () => {
  it('refuses a file with bad rows whole, naming each line, then imports the fixed file', async () => {
    const bad = join(dataDir, 'bad.csv')
    writeFileSync(
      bad,
      [
        'plant,date,mean_temp_c',
        'plant-a,2026-02-01,27.5',
        'plant-a,2026-02-02,warm',
        'plant-x,2026-02-03,28',
        'shared,2026-02-30,28',
        'plant-a,2026-02-04,85',
        'plant-a,2026-02-01,26',
      ].join('\n'),
    )
    const refused = await runKawasan(['temperature', 'import', bad], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('line 3: mean_temp_c must be a number')
    expect(refused.stderr).toContain('line 4: unknown plant "plant-x" (a plant id, or shared for the estate)')
    expect(refused.stderr).toContain('line 5: date must be a calendar date YYYY-MM-DD')
    expect(refused.stderr).toContain('line 6: mean_temp_c must be 60 °C or less')
    expect(refused.stderr).toContain('line 7: plant-a on 2026-02-01 is already given on line 2')
    expect(refused.stderr).toContain('nothing was stored [TEMPERATURE_INVALID]')
    await influx.createDatabase()
    expect(await count()).toBe(0)

    const header = join(dataDir, 'header.csv')
    writeFileSync(header, 'plant,date,cdd\nplant-a,2026-02-01,9\n')
    const wrongHeader = await runKawasan(['temperature', 'import', header], env)
    expect(wrongHeader.code).toBe(1)
    expect(wrongHeader.stderr).toContain(
      'line 1: the header must name plant, date, mean_temp_c; missing mean_temp_c; unknown cdd',
    )

    const good = join(dataDir, 'temperatures-february.csv')
    writeFileSync(good, 'date,plant,mean_temp_c\n2026-02-01,plant-a,27.5\n2026-02-01,shared,28.25\n')
    const ok = await runKawasan(['temperature', 'import', good], env)
    expect(ok.stderr).toContain('imported 2 temperature row(s) from temperatures-february.csv')
    expect(ok.code).toBe(0)
    const rows = (await influx.query('SELECT * FROM "outdoor_temperature"'))[0]?.rows ?? []
    expect(rows.map((r) => [r.plant, r.mean_temp_c, r.actor, r.source])).toEqual([
      ['plant-a', 27.5, 'cli', 'file:temperatures-february.csv'],
      ['shared', 28.25, 'cli', 'file:temperatures-february.csv'],
    ])

    const usage = await runKawasan(['temperature', 'export', good], env)
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('unknown action "export"')
  })
})

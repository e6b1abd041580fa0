/**
 * `kawasan certificates import|list` as an operator types them: real processes on a real InfluxDB.
 * A file with one bad row is refused whole (its line and reason on stderr, nothing in the
 * register); the fixed file lands, and another process lists it from the shared register.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { toLine } from '../../shared/influx/line-protocol.js'
import { runKawasan } from '../helpers/kawasan-process.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-cli-certs-'))
const env = { KAWASAN_DATA_DIR: dataDir, INFLUX_URL: inject('influxUrl'), INFLUX_DATABASE: 'cli_certs' }
const EXAMPLE = 'infra/examples/cikarang/certificates.csv'

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('kawasan certificates', () => {
  it('refuses a file with one bad row whole, then imports the fixed file', async () => {
    const good = readFileSync(EXAMPLE, 'utf8')
    // Line 3 (plant-c's I-REC) given a Vietnamese market boundary: the estate's grid is ID-JAMALI.
    const bad = join(dataDir, 'bad.csv')
    writeFileSync(
      bad,
      good.replace(
        ',geothermal,I-TRACK Foundation (PLN issuer),ID,',
        ',geothermal,I-TRACK Foundation (PLN issuer),VN,',
      ),
    )
    const refused = await runKawasan(['certificates', 'import', bad], env)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('line 3: market boundary VN')
    expect(refused.stderr).toContain('nothing was imported')
    expect(refused.stderr).toContain('[CERTIFICATE_IMPORT_INVALID]')
    const empty = await runKawasan(['certificates', 'list'], env)
    expect(empty.code).toBe(0)
    expect(empty.stdout).toBe('')

    const ok = await runKawasan(['certificates', 'import', EXAMPLE], env)
    expect(ok.stderr).toContain('imported 2 certificate(s) from certificates.csv')
    expect(ok.code).toBe(0)
    const listed = await runKawasan(['certificates', 'list'], env)
    expect(listed.stdout.trim().split('\n')).toEqual([
      'IREC-ID-2026-B1\tI-REC\t600 MWh\t2026-01-01..2026-12-31\tID\tplant-b\tretired',
      'IREC-ID-2026-C1\tI-REC\t400 MWh\t2026-01-01..2026-06-30\tID\tplant-c\tretired',
    ])
    // Once more: every id is taken now.
    const again = await runKawasan(['certificates', 'import', EXAMPLE], env)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('line 2: certificate id "IREC-ID-2026-B1" is already in the register')
  })

  it('kawasan rollup backfill counts the register’s retired certificates', async () => {
    // plant-b imports 50 kW all of 2026-02-16 (Jakarta): 1,200 kWh. IREC-ID-2026-B1 (600 MWh from
    // 2026-01-01, retired, imported above) covers all of it, no earlier day being stored:
    // certificates_kwh 1,200, market-based Scope 2 (1,200 − 1,200) × 0.817 = 0 kg; location-based
    // 1,200 × 0.817 = 980.4 kg.
    const influx = new InfluxClient({ url: inject('influxUrl'), database: 'cli_certs' })
    const day = localDayWindow('2026-02-16', 'Asia/Jakarta')
    const lines: string[] = []
    for (let t = day.start - 3_600_000; t <= day.end + 3_600_000; t += 60_000)
      lines.push(
        toLine({
          measurement: 'readings',
          tags: { cluster: 'cikarang', plant: 'plant-b', device: 'grid-main', role: 'grid_import' },
          fields: {
            e_kwh: 5000 + ((t - day.start) / 3_600_000) * 50,
            seq: { int: (t - day.start) / 60_000 },
          },
          time: t,
        }),
      )
    await influx.writeLines(lines)
    const run = await runKawasan(['rollup', 'backfill', '--from', '2026-02-16', '--to', '2026-02-16'], env)
    expect(run.code, run.stderr).toBe(0)
    const [row] =
      (
        await influx.query(
          `SELECT * FROM "rollup_1d" WHERE "plant" = 'plant-b' AND time >= ${day.start}000000 AND time < ${day.end}000000`,
        )
      )[0]?.rows ?? []
    expect(row?.certificates_kwh).toBeCloseTo(1200, 6)
    expect(Number(row?.scope2_market_kg_co2e)).toBeCloseTo(0, 6)
    expect(Number(row?.scope2_location_kg_co2e)).toBeCloseTo(980.4, 6)
  })

  it('answers a usage error with the usage', async () => {
    const run = await runKawasan(['certificates', 'import'], env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('kawasan certificates import FILE')
  })
})

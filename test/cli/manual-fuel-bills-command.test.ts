/**
 * `kawasan manual import|list` with fuel deliveries and utility bills as an energy manager types
 * them: real processes on a real InfluxDB (docs/AUDIT.md "Import files"). A CSV with a bad row is
 * refused whole with each row's reason; the fixed file lands and another process lists it with
 * the device the delivery was resolved to.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { MANUAL_CSV_HEADERS } from '../../shared/manual-entries/file.js'
import { runKawasan } from '../helpers/kawasan-process.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-cli-fuelbills-'))
const env = { KAWASAN_DATA_DIR: dataDir, INFLUX_URL: inject('influxUrl'), INFLUX_DATABASE: 'cli_fuelbills' }
const P = '2026-04-01T00:00:00+07:00,2026-05-01T00:00:00+07:00'
const FUEL = MANUAL_CSV_HEADERS.fuel_delivery
const BILL = MANUAL_CSV_HEADERS.utility_bill

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('kawasan manual import: fuel deliveries and bills', () => {
  it('refuses a delivery file with a bad row whole, imports the fixed one and a bill file, and lists both', async () => {
    const influx = new InfluxClient({ url: inject('influxUrl'), database: 'cli_fuelbills' })
    await influx.queryAll('CREATE DATABASE "cli_fuelbills"')
    const good = `dn-0401,fuel_delivery,plant-a,,diesel,2000,L,2026-04-01T08:00:00+07:00,${P},500,,delivery note 0401`
    const bad = join(dataDir, 'deliveries-bad.csv')
    writeFileSync(
      bad,
      `${FUEL}\n${good}\ndn-0402,fuel_delivery,plant-a,genset-1,lpg,10,kg,2026-04-02T08:00:00+07:00,${P},,,wrong fuel\n`,
    )
    const refused = await runKawasan(['manual', 'import', bad], env)
    expect(refused.code, refused.stderr).toBe(1)
    expect(refused.stderr).toContain('line 3: device "genset-1" burns diesel, not lpg')
    expect(refused.stderr).toContain('[MANUAL_IMPORT_INVALID]')
    expect((await runKawasan(['manual', 'list'], env)).stdout).toBe('')

    const fixed = join(dataDir, 'deliveries.csv')
    writeFileSync(fixed, `${FUEL}\n${good}\n`)
    const ok = await runKawasan(['manual', 'import', fixed], env)
    expect(ok.code, ok.stderr).toBe(0)
    const bills = join(dataDir, 'bills.csv')
    writeFileSync(
      bills,
      `${BILL}\npln-c-2026-04,utility_bill,plant-c,grid-main,${P},36000,PLN,I-3,invoice 2026-04\n`,
    )
    expect((await runKawasan(['manual', 'import', bills], env)).code).toBe(0)

    const listed = (await runKawasan(['manual', 'list'], env)).stdout
    // No device in the file: the plant's only device burning diesel, stored with the entry.
    expect(listed).toContain(
      'dn-0401\tplant-a/genset-1\tfuel delivery 2000 L diesel at 2026-04-01T01:00:00.000Z for 2026-03-31T17:00:00.000Z..2026-04-30T17:00:00.000Z (stock opening 500 L)',
    )
    expect(listed).toContain('pln-c-2026-04\tplant-c/grid-main\tutility bill')
    expect(listed).toContain('36000 kWh from PLN (I-3)')
    expect(listed).toContain('file:bills.csv')
  }, 120_000)
})

/**
 * `kawasan manual import|list` and `kawasan audit export|verify` as an operator types them: real
 * processes on a real InfluxDB (docs/AUDIT.md). A file with a bad row is refused whole; the fixed
 * one lands and is listed by another process; a day rolled up by `kawasan rollup backfill` is
 * exported signed, the export verifies, and fails once one byte of it changes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { localDayWindow } from '../../shared/emissions/local-days.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { runKawasan } from '../helpers/kawasan-process.js'
import { writeGrids } from '../helpers/meter-readings.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-cli-audit-'))
const env = { KAWASAN_DATA_DIR: dataDir, INFLUX_URL: inject('influxUrl'), INFLUX_DATABASE: 'cli_audit' }
const DAY = '2026-03-02'
const HEADER = 'id,kind,plant,device,from,to,energy_kwh,reason'
const FIX = `fix-a-${DAY},correction,plant-a,grid-main,${DAY}T08:00:00+07:00,${DAY}T12:00:00+07:00,400,meter read double`

afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('kawasan manual and kawasan audit', () => {
  it('imports a correction file whole or not at all, lists it, and exports a signed day that verifies until one byte changes', async () => {
    const influx = new InfluxClient({ url: inject('influxUrl'), database: 'cli_audit' })
    await influx.queryAll('CREATE DATABASE "cli_audit"')
    const day = localDayWindow(DAY, 'Asia/Jakarta')
    await writeGrids(influx, day.start - 3_600_000, day.end + 3_600_000)

    const bad = join(dataDir, 'bad.csv')
    writeFileSync(
      bad,
      `${HEADER}\n${FIX}\nfix-b,correction,plant-a,no-such-meter,${DAY}T08:00:00+07:00,${DAY}T09:00:00+07:00,1,x\n`,
    )
    const refused = await runKawasan(['manual', 'import', bad], env)
    expect(refused.code, refused.stderr).toBe(1)
    expect(refused.stderr).toContain('line 3')
    expect(refused.stderr).toContain('[MANUAL_IMPORT_INVALID]')
    expect((await runKawasan(['manual', 'list'], env)).stdout).toBe('')

    const good = join(dataDir, 'good.csv')
    writeFileSync(good, `${HEADER}\n${FIX}\n`)
    const ok = await runKawasan(['manual', 'import', good], env)
    expect(ok.code, ok.stderr).toBe(0)
    const listed = await runKawasan(['manual', 'list'], env)
    expect(listed.stdout).toContain(`fix-a-${DAY}\tplant-a/grid-main\tcorrection`)
    expect(listed.stdout).toContain('file:good.csv')

    const backfill = await runKawasan(['rollup', 'backfill', '--from', DAY, '--to', DAY], env)
    expect(backfill.code, backfill.stderr).toBe(0)
    const file = join(dataDir, 'audit.json')
    const exported = await runKawasan(['audit', 'export', '--from', DAY, '--to', DAY, '--out', file], env)
    expect(exported.code, exported.stderr).toBe(0)
    const text = readFileSync(file, 'utf8')
    expect(text).toContain(`fix-a-${DAY}`) // the correction in the period is part of the export
    expect(text).toContain('"plant":"plant-a"')

    const verified = await runKawasan(['audit', 'verify', file], env)
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/^OK: .* is signed by Ed25519 key \S+ and unchanged/)

    // One byte: the first digit 2 of the file becomes 3.
    const i = text.indexOf('2')
    const changed = join(dataDir, 'changed.json')
    writeFileSync(changed, `${text.slice(0, i)}3${text.slice(i + 1)}`)
    const failed = await runKawasan(['audit', 'verify', changed], env)
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('FAILED')
    expect(failed.stderr).toContain('[AUDIT_VERIFY_FAILED]')
  }, 180_000)
})

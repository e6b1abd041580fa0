/**
 * `kawasan certificates import|list` as an operator types them: real processes on a real InfluxDB.
 * A file with one bad row is refused whole (its line and reason on stderr, nothing in the
 * register); the fixed file lands, and another process lists it from the shared register.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
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

  it('answers a usage error with the usage', async () => {
    const run = await runKawasan(['certificates', 'import'], env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('kawasan certificates import FILE')
  })
})

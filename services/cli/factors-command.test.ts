import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { runKawasan } from '../../test/helpers/kawasan-process.js'
import { factorsCommand } from './factors-command.js'

/** Runs the command and returns its exit code and everything it printed. */
async function run(...args: string[]): Promise<{ rc: number; text: string }> {
  let text = ''
  const out = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk)
      cb()
    },
  })
  const rc = await factorsCommand(args, out, { now: () => Date.parse('2026-12-01T08:00:00Z') })
  return { rc, text }
}

/** The printed line of a factor (its key at the start of an indented line). */
function lineOf(text: string, key: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`  ${key} `))
  if (!line) throw new Error(`no line for ${key} in:\n${text}`)
  return line
}

describe('kawasan factors show', () => {
  it('ES: Spain’s 2024 grid average with its unit, gases, type, year and source', async () => {
    const { rc, text } = await run('show', 'ES')
    expect(rc).toBe(0)
    expect(text).toMatch(
      /^Factor set 2026\.1 \(bundled; valid 2026-01-01 to open; GWP AR5: CH4 28, N2O 265\)/,
    )
    expect(lineOf(text, 'ES')).toBe(
      '  ES             0.096 kg CO2e/kWh (0.096 t_per_mwh)  gases CO2e  type average  year 2024',
    )
    expect(text).toMatch(/source: Red Eléctrica \(REE\) 2024/)
    expect(text).toMatch(/confidence: low-medium/)
    const market = text.slice(text.indexOf('residual_mix:'))
    expect(lineOf(market, 'ES')).toBe(
      '  ES             0.2922 kg CO2/kWh (292.2 g_per_kwh)  gases CO2  type residual_mix  year 2024',
    )
    expect(market).toMatch(/source: AIB \(Association of Issuing Bodies\), European Residual Mixes 2024/)
  })

  it('ID: every Indonesian region, the average used and the combined margins shown as reference only', async () => {
    const { rc, text } = await run('show', 'ID')
    expect(rc).toBe(0)
    const grid = text.slice(text.indexOf('grid:'), text.indexOf('reference:'))
    const reference = text.slice(text.indexOf('reference:'))
    expect(lineOf(grid, 'ID-JAMALI')).toMatch(
      /0\.817 kg CO2\/kWh \(0\.817 t_per_mwh\) {2}gases CO2 {2}type average {2}year 2019/,
    )
    expect(lineOf(grid, 'ID')).toMatch(/0\.867 kg CO2\/kWh .*type average {2}year 2015/)
    expect(reference).toMatch(/^reference: reference only: not used for any figure/)
    expect(lineOf(reference, 'ID-JAMALI')).toMatch(/0\.87 kg CO2\/kWh .*type combined_margin {2}year 2019/)
    expect(lineOf(reference, 'ID-SUMATERA')).toMatch(/0\.761 .*combined_margin/)
  })

  it('CN: grid average 0.5366 and the residual mix 0.5856, both CO2 only', async () => {
    const { text } = await run('show', 'CN')
    expect(lineOf(text, 'CN')).toMatch(/0\.5366 kg CO2\/kWh .*type average {2}year 2022/)
    const market = text.slice(text.indexOf('residual_mix:'))
    expect(lineOf(market, 'CN')).toMatch(/0\.5856 kg CO2\/kWh .*type residual_mix {2}year 2022/)
    expect(lineOf(text, 'CN-YUNNAN')).toMatch(/0\.1073/)
    expect(lineOf(text, 'CN-SICHUAN')).toMatch(/0\.1404/)
  })

  it('VN: only the DCC combined margin, marked as not usable for Scope 2', async () => {
    const { rc, text } = await run('show', 'VN')
    expect(rc).toBe(0)
    expect(text).not.toMatch(/^grid:/m)
    expect(lineOf(text, 'VN')).toMatch(/0\.6592 kg CO2\/kWh .*type combined_margin {2}year 2023/)
    expect(text).toMatch(/Not an inventory factor/)
  })

  it('JP: the national average 0.423 (0.000423 t/kWh) and Yonden’s residual menu', async () => {
    const { text } = await run('show', 'JP')
    expect(lineOf(text, 'JP')).toMatch(
      /0\.423 kg CO2\/kWh \(0\.000423 t_per_kwh\) .*type average {2}year 2024/,
    )
    const market = text.slice(text.indexOf('residual_mix:'))
    expect(lineOf(market, 'JP-SHIKOKU')).toMatch(/0\.464 kg CO2\/kWh .*type supplier_specific {2}year 2023/)
  })

  it('US: the national eGRID average and all nine subregions, lb/MWh converted to kg/kWh', async () => {
    const { text } = await run('show', 'US')
    // 497.443 lb/MWh × 0.45359237 / 1000 = 0.225636 kg/kWh
    expect(lineOf(text, 'US-CAMX')).toMatch(/0\.225636 kg CO2\/kWh \(497\.443 lb_per_mwh\) .*year 2022/)
    expect(lineOf(text, 'US')).toMatch(/0\.373374 kg CO2\/kWh \(823\.149 lb_per_mwh\)/)
    const keysOf = (section: string) =>
      section
        .split('\n')
        .filter((l) => /^ {2}US/.test(l))
        .map((l) => l.trim().split(' ')[0])
    const grid = text.slice(text.indexOf('grid:'), text.indexOf('residual_mix:'))
    const market = text.slice(text.indexOf('residual_mix:'))
    const subregions = [
      'US-CAMX',
      'US-ERCT',
      'US-MROE',
      'US-NEWE',
      'US-NWPP',
      'US-NYUP',
      'US-RFCW',
      'US-SRSO',
    ]
    expect(keysOf(grid)).toEqual(['US', ...subregions])
    // Green-e residual mixes (2023 data) for each subregion, none for the national average
    expect(keysOf(market)).toEqual(subregions)
    // 434.22 lb/MWh × 0.45359237 / 1000 = 0.196959 kg/kWh
    expect(lineOf(market, 'US-CAMX')).toMatch(
      /0\.196959 kg CO2\/kWh \(434\.22 lb_per_mwh\) .*type residual_mix {2}year 2023/,
    )
    expect(text).toMatch(/US: no residual mix in this set/)
  })

  it('shows the set in force on another date, or a named set, and AR6 when asked', async () => {
    const old = await run('show', 'ES', '--date', '2025-05-01')
    expect(old.text).toMatch(/^Factor set 2025\.1/)
    expect(lineOf(old.text, 'ES')).toMatch(/0\.19 kg CO2e\/kWh .*type unclassified {2}year 2019/)
    const named = await run('show', 'ES', '--set', '2025.1', '--gwp', 'AR6')
    expect(named.text).toMatch(/GWP AR6: CH4 29\.8 fossil \/ 27 non-fossil, N2O 273/)
  })

  it('lists fuels per TJ with their NCV and reference conditions', async () => {
    const { text } = await run('show', 'fuels')
    expect(lineOf(text, 'lpg')).toMatch(
      /CO2 63100 kg\/TJ {2}CH4 1 kg\/TJ {2}N2O 0\.1 kg\/TJ {2}NCV 47\.3 MJ\/kg {2}year 2006/,
    )
    expect(lineOf(text, 'coal_sub_bituminous')).toMatch(/CO2 96100 kg\/TJ .*NCV 18\.9 MJ\/kg/)
    expect(lineOf(text, 'biomass_wood')).toMatch(/\(biogenic, memo item\)/)
    expect(text).toMatch(/volume at 0 °C, 101\.325 kPa \(Nm³\)/)
    const thermal = await run('show', 'thermal')
    expect(lineOf(thermal.text, 'DEFAULT-NG-BOILER')).toMatch(
      /0\.252684 kg CO2e\/kWh heat \(70\.19 kg_per_gj\) {2}gases CO2e {2}type estimate {2}year 2006/,
    )
  })

  it('shows an operator file’s supplier-specific factor', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-factors-'))
    const file = join(dir, 'factors.json')
    writeFileSync(
      file,
      JSON.stringify({
        kawasan_factor_file: 1,
        version: 'jababeka-2026.1',
        base: '2026.1',
        licence: 'contract',
        supplier_specific: {
          'plant-a': {
            value: 0.12,
            unit: 't_per_mwh',
            gases: 'CO2',
            type: 'supplier_specific',
            year: 2026,
            source: 'PLN contract 42',
          },
        },
      }),
    )
    const { rc, text } = await run('show', 'ID-JAMALI', '--factor-file', file)
    expect(rc).toBe(0)
    expect(text).toMatch(/^Factor set jababeka-2026\.1 \(/)
    expect(lineOf(text, 'plant-a')).toMatch(
      /0\.12 kg CO2\/kWh \(0\.12 t_per_mwh\) .*type supplier_specific {2}year 2026/,
    )
  })

  it('fails with a message for an unknown region, set, option or file', async () => {
    expect((await run('show', 'ATLANTIS')).rc).toBe(1)
    const noSet = await run('show', 'ES', '--set', '1999.1')
    expect(noSet).toMatchObject({ rc: 1 })
    expect(noSet.text).toMatch(/EMISSIONS_FACTOR_SET_INVALID: no factor set "1999\.1"/)
    expect((await run('show', 'ES', '--gwp', 'AR4')).text).toMatch(/--gwp must be AR5 or AR6/)
    expect((await run('show', 'ES', '--bogus')).rc).toBe(1)
    const badFile = await run('list', '--factor-file', '/nonexistent/factors.json')
    expect(badFile.text).toMatch(/EMISSIONS_FACTOR_FILE_INVALID/)
    expect((await run('frobnicate')).rc).toBe(1)
    expect((await run('--help')).rc).toBe(0)
  })
})

describe('kawasan factors list and diff', () => {
  it('lists every set with its validity and marks the one in force today', async () => {
    const { rc, text } = await run('list')
    expect(rc).toBe(0)
    expect(text).toMatch(/^2025\.1 +… +2025-12-31 +2026-01-15 +AR5 +bundled \(legacy/m)
    expect(text).toMatch(/^2026\.1 +2026-01-01 +open +2026-12-01 +AR5 +bundled {2}← in force 2026-12-01$/m)
  })

  it('diff 2025.1 2026.1 names every changed factor with old and new value', async () => {
    const { rc, text } = await run('diff', '2025.1', '2026.1')
    expect(rc).toBe(0)
    expect(text).toMatch(
      /~ grid ES: 0\.19 → 0\.096 kg\/kWh \(-49\.5 %\); gases CO2e → CO2e; type unclassified → average; year 2019 → 2024/,
    )
    expect(text).toMatch(/~ grid ID-JAMALI: 0\.87 → 0\.817 kg\/kWh \(-6\.1 %\)/)
    expect(text).toMatch(/- grid VN: removed \(was 0\.6592/)
    expect(text).toMatch(/\+ reference VN: added 0\.6592 kg CO2\/kWh, combined_margin, 2023/)
    expect(text).toMatch(/\+ residual_mix CN: added 0\.5856 kg CO2\/kWh, residual_mix, 2022/)
    expect(text).toMatch(/= grid US-CAMX: 0\.225636 kg CO2\/kWh unchanged; type unclassified → average/)
    expect(text).toMatch(/\+ fuel lpg: added CO2 63100 kg\/TJ/)
    expect(text).toMatch(/^\d+ changes$/m)
  })
})

describe('kawasan factors from the CLI (config applies)', () => {
  it('uses the config’s rollup.factorFile and rollup.gwp unless the command line names others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kawasan-factors-cli-'))
    const factorFile = join(dir, 'factors.json')
    writeFileSync(
      factorFile,
      JSON.stringify({ kawasan_factor_file: 1, version: 'cfg-2026.1', base: '2026.1', licence: 'contract' }),
    )
    const configFile = join(dir, 'kawasan.yaml')
    writeFileSync(configFile, `rollup:\n  factorFile: ${factorFile}\n  gwp: AR6\n`)
    // The real CLI, as an operator runs it (the set in force today: the operator's, based on 2026.1).
    const runCli = async (argv: string[]) => {
      const r = await runKawasan(argv)
      return { rc: r.code, text: r.stdout + r.stderr }
    }
    const fromConfig = await runCli(['-c', configFile, 'factors', 'show', 'ES'])
    expect(fromConfig.rc).toBe(0)
    expect(fromConfig.text).toMatch(
      /^Factor set cfg-2026\.1 \(.*factors\.json; .*GWP AR6: CH4 29\.8 fossil \/ 27 non-fossil, N2O 273\)/,
    )
    const overridden = await runCli(['factors', 'show', 'ES', '--gwp', 'AR5', '--set', '2026.1'])
    expect(overridden.text).toMatch(/^Factor set 2026\.1 \(bundled; .*GWP AR5: CH4 28, N2O 265\)/)
  })
})

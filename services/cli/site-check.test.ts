import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { siteCheck } from './site-check.js'

const EXAMPLE = 'infra/examples/cikarang/site.yaml'
const dir = mkdtempSync(join(tmpdir(), 'kawasan-site-check-'))
const write = (name: string, text: string) => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}
/** The example estate with some text replaced; fails when the example no longer has that text. */
const variant = (name: string, ...edits: [string, string][]) => {
  let text = readFileSync(EXAMPLE, 'utf8')
  for (const [from, to] of edits) {
    if (!text.includes(from)) throw new Error(`example site has no "${from}"`)
    text = text.replace(from, to)
  }
  return write(name, text)
}

describe('kawasan site check', () => {
  it('summarises the example estate and says OK', () => {
    const r = siteCheck(EXAMPLE)
    expect(r.ok).toBe(true)
    expect(r.text).toContain(`${EXAMPLE}: OK`)
    expect(r.text).toContain('cikarang')
    expect(r.text).toContain('grid region ID-JAMALI')
    expect(r.text).toContain('4 (plant-a: 4 devices')
    expect(r.text).toContain('solar-farm (solar_pv): plant-a 40 %, plant-b 30 %, plant-c 30 %')
  })

  it('lists every problem of a misspelled estate with its line and column', () => {
    const f = variant(
      'typos.yaml',
      ['fuel: diesel', 'feul: diesel'],
      [
        '{ id: grid-main, kind: meter, role: grid_import, rated_kw: 1800 }',
        '{ id: grid-main, kind: meter, role: grid_import, rated_kW: 1800 }',
      ],
      ['plant-a: 0.4, plant-b: 0.3, plant-c: 0.3', 'plant-a: 0.5, plant-b: 0.3, plant-c: 0.3'],
      ['grid_region: ID-JAMALI', 'grid_region: ID-JAMAL'],
    )
    const r = siteCheck(f)
    expect(r.ok).toBe(false)
    const lines = r.text.split('\n')
    const source = readFileSync(f, 'utf8').split('\n')
    const lineOf = (needle: string) => source.findIndex((l) => l.includes(needle)) + 1
    expect(lines[0]).toBe(`${f} has 4 problems; fix them and run \`kawasan site check\` again:`)
    expect(r.text).toContain(
      `${f}:${lineOf('feul')}:${source[lineOf('feul') - 1]!.indexOf('feul') + 1} plants[0].devices[3].feul: unknown setting "feul"; did you mean "fuel"?`,
    )
    expect(r.text).toContain(`${f}:${lineOf('rated_kW')}:`)
    expect(r.text).toContain(
      'plants[1].devices[0].rated_kW: unknown setting "rated_kW"; did you mean "rated_kw"?',
    )
    expect(r.text).toContain(`${f}:${lineOf('plant-a: 0.5')}:`)
    expect(r.text).toContain('shares of solar-farm add up to 110 %')
    expect(r.text).toContain(
      `${f}:${lineOf('ID-JAMAL')}:16 cluster.grid_region: "ID-JAMAL" is not a grid region of the emission factor sets; did you mean "ID-JAMALI"?`,
    )
  })

  it('reports a file that cannot be read or parsed instead of throwing', () => {
    expect(siteCheck(join(dir, 'missing.yaml'))).toMatchObject({
      ok: false,
      text: expect.stringContaining('cannot read'),
    })
    const r = siteCheck(write('broken.yaml', 'cluster:\n  id: [x\n'))
    expect(r.ok).toBe(false)
    expect(r.text).toMatch(/broken\.yaml:\d+:\d+ /)
  })
})

import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { siteModelSchema } from './site-model.js'
import { knownGridRegions, loadSiteModel } from './site-model-file.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-site-'))
let n = 0
const load = (text: string): string => {
  const f = join(dir, `site-${n++}.yaml`)
  writeFileSync(f, text)
  try {
    loadSiteModel(f)
    return 'OK'
  } catch (err) {
    expect((err as { code?: string }).code).toBe('SITE_MODEL_INVALID')
    return (err as Error).message.replaceAll(`${f}:`, 'site.yaml:')
  }
}

const estate = (
  o: { region?: string; allocation?: string; certsB?: string; extra?: string } = {},
) => `cluster:
  id: est
  name: Estate
  timezone: Asia/Jakarta
  grid_region: ${o.region ?? 'ID-JAMALI'}
  shared_devices:
    - id: farm
      kind: inverter
      role: solar_pv
      allocation: ${o.allocation ?? '{ method: fixed_shares, shares: { pa: 0.6, pb: 0.4 } }'}
plants:
  - id: pa
    name: A
    tenant: ta
    devices: [{ id: m, kind: meter, role: grid_import }]
    certificates: [{ id: C-1, mwh: 10, from: 2026-01-01, to: 2026-12-31 }]
  - id: pb
    name: B
    tenant: tb
    devices: [{ id: m, kind: meter, role: grid_import${o.extra ?? ''} }]
    certificates: ${o.certsB ?? '[]'}
`

describe('site model checks', () => {
  it('accepts an estate whose shares add up to exactly 100 % in decimals', () => {
    expect(
      load(estate({ allocation: '{ method: fixed_shares, shares: { pa: 0.7, pb: 0.2, pc: 0.1 } }' })),
    ).toContain('"pc"')
    expect(load(estate({ allocation: '{ method: fixed_shares, shares: { pa: 0.7, pb: 0.3 } }' }))).toBe('OK')
    expect(load(estate({ allocation: '{ method: fixed_shares, shares: { pa: 0.1, pb: 0.2 } }' }))).toBe('OK')
  })

  it('refuses solar shares adding up to more than 100 %, at the shares line', () => {
    const m = load(estate({ allocation: '{ method: fixed_shares, shares: { pa: 0.6, pb: 0.5 } }' }))
    expect(m).toContain(
      'site.yaml:10:51 cluster.shared_devices[0].allocation.shares: shares of farm add up to 110 %; they must add up to 100 % or less',
    )
  })

  it('refuses a share or a delivery meter given to a plant that does not exist', () => {
    expect(load(estate({ allocation: '{ method: fixed_shares, shares: { pa: 0.5, px: 0.2 } }' }))).toContain(
      'cluster.shared_devices[0].allocation.shares.px: plant "px" is not in the site model (plants: pa, pb)',
    )
    const metered = load(estate({ allocation: '{ method: metered, meters: { pa: m, pb: nope, pz: m } }' }))
    expect(metered).toContain(
      'allocation.meters.pb: plant pb has no device "nope" to meter deliveries from farm',
    )
    expect(metered).toContain('allocation.meters.pz: plant "pz" is not in the site model')
  })

  it('refuses a grid region the emission factor registry does not know, suggesting the closest', () => {
    expect(knownGridRegions()).toContain('ID-JAMALI')
    expect(load(estate({ region: 'ID-JAWA' }))).toContain(
      'site.yaml:5:16 cluster.grid_region: "ID-JAWA" is not a grid region of the emission factor sets',
    )
    expect(load(estate({ region: 'id-jamali' }))).toContain('did you mean "ID-JAMALI"?')
  })

  it('refuses the same certificate id on two plants', () => {
    const m = load(estate({ certsB: '[{ id: C-1, mwh: 5, from: 2026-01-01, to: 2026-06-30 }]' }))
    expect(m).toContain(
      'plants[1].certificates[0].id: certificate "C-1" is already listed under plant pa; a certificate can be claimed once in the estate',
    )
  })

  it('reports unknown keys with a did-you-mean together with the cross-field problems', () => {
    const m = load(
      estate({
        extra: ', feul: diesel, rated_kW: 5',
        allocation: '{ method: fixed_shares, shares: { pa: 0.6, pb: 0.5 } }',
        region: 'XX',
      }),
    )
    expect(m).toMatch(/^site model .* has 4 problems/)
    expect(m).toContain(
      'site.yaml:20:56 plants[1].devices[0].feul: unknown setting "feul"; did you mean "fuel"?',
    )
    expect(m).toContain('plants[1].devices[0].rated_kW: unknown setting "rated_kW"; did you mean "rated_kw"?')
    expect(m).toContain('add up to 110 %')
    expect(m).toContain('"XX" is not a grid region')
  })

  it('is strict in the schema itself, for code that parses a model without the file loader', () => {
    const r = siteModelSchema.safeParse({
      cluster: { id: 'c', name: 'C', timezone: 'UTC', grid_region: 'ID-JAMALI', colour: 'red' },
      plants: [{ id: 'p', name: 'P', tenant: 't', devices: [{ id: 'd', kind: 'meter', role: 'load' }] }],
    })
    expect(r.success).toBe(false)
    expect(r.error?.issues[0]).toMatchObject({
      code: 'unrecognized_keys',
      keys: ['colour'],
      path: ['cluster'],
    })
  })

  it('accepts a co-fired boiler and a steam import, and refuses heat settings that would be ignored or double counted', () => {
    // `extra` continues plant pb's grid meter; the boiler and the steam meter follow it.
    const m = (boiler: string, grid = '') =>
      load(
        estate({
          extra: `${grid} }, { id: b1, kind: boiler, role: boiler${boiler} }, { id: st, kind: meter, role: heat_import, heat_factor: ID-STEAM`,
        }),
      )
    const blend = (a: number, b: number, fuelB = 'coal_sub_bituminous') =>
      `, blend: [{ fuel: biomass_wood, share: ${a} }, { fuel: ${fuelB}, share: ${b} }]`
    expect(m(`${blend(0.8, 0.2)}, blend_basis: mass, thermal_efficiency: 0.85`)).toBe('OK')
    expect(m(', fuel: coal_bituminous')).toBe('OK')
    expect(m(blend(0.8, 0.3))).toContain('blend shares of b1 add up to 110 %; they must add up to 100 %')
    expect(m(blend(0.5, 0.5, 'biomass_wood'))).toContain('a fuel is listed twice in the blend')
    expect(m('')).toContain('a boiler needs its fuel, or a blend of fuels')
    expect(m(`, fuel: coal_bituminous${blend(0.5, 0.5)}`)).toContain('give either fuel or blend, not both')
    expect(m(', fuel: coal_bituminous', ', thermal_efficiency: 0.8')).toContain(
      'thermal_efficiency applies to role boiler only, not grid_import',
    )
    expect(m(', fuel: coal_bituminous', ', heat_factor: X')).toContain(
      'heat_factor applies to role heat_import only, not grid_import',
    )
    expect(m(', fuel: coal_bituminous, thermal_efficiency: 1.2')).toContain('thermal_efficiency')
    expect(m(', fuel: coal_bituminous, heat_factr: X')).toContain('heat_factr')
  })

  it('accepts a weather station and CDD baseline settings, and refuses ones that cannot work', () => {
    // `certsB` ends plant pb: its enpi section follows; `extra` adds a weather station to pb.
    const m = (enpi: string, allocation?: string) =>
      load(
        estate({
          extra: ' }, { id: ws, kind: meter, role: weather',
          certsB: `[]\n    enpi: ${enpi}`,
          ...(allocation ? { allocation } : {}),
        }),
      )
    expect(
      m('{ variables: [production, cdd], cdd_base_c: 24, temperature: { plant: pb, device: ws } }'),
    ).toBe('OK')
    expect(
      siteModelSchema.parse({
        cluster: { id: 'c', name: 'C', timezone: 'UTC', grid_region: 'ID-JAMALI' },
        plants: [
          { id: 'p', name: 'P', tenant: 't', devices: [{ id: 'd', kind: 'meter', role: 'load' }], enpi: {} },
        ],
      }).plants[0]?.enpi,
    ).toEqual({ variables: ['production'], cdd_base_c: 18 })
    expect(m('{ variables: [cdd] }')).toContain('plants[1].enpi.variables: must include production')
    expect(m('{ variables: [production, cdd, cdd] }')).toContain('lists a variable twice')
    expect(m('{ variables: [production, hdd] }')).toContain('plants[1].enpi.variables[1]')
    expect(m('{ cdd_base_c: 40 }')).toContain('plants[1].enpi.cdd_base_c')
    expect(m('{ temperature: { plant: pa, device: ws } }')).toContain(
      'plants[1].enpi.temperature: no device "ws" in plant "pa" to read the outdoor temperature from',
    )
    expect(m('{ variabels: [production] }')).toContain('unknown setting "variabels"')
    // A weather station is no shared asset: shared assets are allocated energy.
    const shared = load(estate().replace('      role: solar_pv\n', '      role: weather\n'))
    expect(shared).toContain(
      'cluster.shared_devices[0].role: a shared asset carries energy to allocate, role weather does not',
    )
  })
})

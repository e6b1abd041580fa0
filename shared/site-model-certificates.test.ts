/** Site model rules for certificates (docs/CARBON-ACCOUNTING.md: one certificate counts once). */
import { describe, expect, it } from 'vitest'
import { siteModelSchema } from './site-model.js'

const plant = (id: string, certificates: unknown[]) => ({
  id,
  name: id,
  tenant: `t-${id}`,
  devices: [{ id: 'grid-main', kind: 'meter', role: 'grid_import' }],
  certificates,
})
const model = (plants: unknown[]) => ({
  cluster: { id: 'c', name: 'C', timezone: 'Asia/Jakarta', grid_region: 'ID-JAMALI' },
  plants,
})
const cert = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  mwh: 10,
  from: '2026-01-01',
  to: '2026-12-31',
  ...extra,
})

describe('site model certificates', () => {
  it('refuses the same certificate id on two plants, naming the plant that claimed it first', () => {
    const r = siteModelSchema.safeParse(model([plant('a', [cert('IREC-1')]), plant('b', [cert('IREC-1')])]))
    expect(r.success).toBe(false)
    expect(r.error?.issues).toEqual([
      expect.objectContaining({
        path: ['plants', 1, 'certificates', 0, 'id'],
        message: expect.stringContaining('certificate "IREC-1" is already listed under plant a'),
      }),
    ])
  })

  it('refuses a certificate whose market boundary is not the grid region’s market', () => {
    // ID-JAMALI is market ID; a Vietnamese I-REC is not, an Indonesian one is.
    const r = siteModelSchema.safeParse(
      model([plant('a', [cert('IREC-VN', { market: 'VN' }), cert('IREC-ID', { market: 'ID' })])]),
    )
    expect(r.success).toBe(false)
    expect(r.error?.issues).toEqual([
      expect.objectContaining({
        path: ['plants', 0, 'certificates', 0, 'market'],
        message: expect.stringContaining(
          'market boundary VN (market VN) is not the market of grid region ID-JAMALI',
        ),
      }),
    ])
  })

  it('refuses the same certificate id twice on one plant', () => {
    const r = siteModelSchema.safeParse(model([plant('a', [cert('GO-7'), cert('GO-7')])]))
    expect(r.success).toBe(false)
  })

  it('accepts distinct ids and an hour-stamped granular certificate', () => {
    const r = siteModelSchema.safeParse(
      model([
        plant('a', [cert('IREC-1')]),
        plant('b', [
          cert('GC-2026-03-02T10', { type: 'GC', mwh: 0.5, production_hour: '2026-03-02T03:00:00Z' }),
        ]),
      ]),
    )
    expect(r.success).toBe(true)
  })
})

import { describe, expect, it } from 'vitest'
import { exampleSite } from '../test/helpers/site.js'
import { SiteIndex, siteModelSchema } from './site-model.js'

const base = exampleSite().model
const withSparkplug = (sparkplug: unknown) => siteModelSchema.safeParse({ ...base, sparkplug })
const issues = (sparkplug: unknown) => {
  const r = withSparkplug(sparkplug)
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
}
const node = (over: Record<string, unknown> = {}, device: Record<string, unknown> = {}) => ({
  group: 'Plant A',
  edge_node: 'Edge 1',
  plant: 'plant-a',
  devices: [
    {
      device: 'Meter 1',
      to: 'grid-main',
      metrics: { 'Power/Active': { metric: 'p_kw', unit: 'W' } },
      ...device,
    },
  ],
  ...over,
})

describe('site model: sparkplug section', () => {
  it('maps an edge node and its devices onto a plant, found by group and edge node id', () => {
    const r = withSparkplug([node()])
    expect(r.success).toBe(true)
    const site = new SiteIndex(r.data!)
    expect(site.sparkplugNode('Plant A', 'Edge 1')?.plant).toBe('plant-a')
    expect(site.sparkplugNode('Plant A', 'Edge 2')).toBeUndefined()
    expect(new SiteIndex(siteModelSchema.parse(base)).model.sparkplug).toEqual([])
  })

  it('refuses units that do not convert to the metric’s unit, unknown keys, devices and plants', () => {
    expect(issues([node({}, { metrics: { P: { metric: 'p_kw', unit: 'Wh' } } })])).toEqual([
      'sparkplug.0.devices.0.metrics.P.unit: p_kw is in kW; "Wh" does not convert to it (units: W, kW, MW)',
    ])
    expect(issues([node({}, { metrics: { P: { metric: 'p_kw', scale: 10 } } })])[0]).toMatch(/scale/)
    expect(issues([node({ colour: 'red' })])[0]).toMatch(/colour/)
    expect(issues([node({}, { metrics: { P: { metric: 'watts' } } })])[0]).toMatch(/metric/)
    expect(issues([node({}, { to: 'no-such-meter' })])).toEqual([
      'sparkplug.0.devices.0.to: plant plant-a has no device "no-such-meter"',
    ])
    expect(issues([node({ plant: 'plant-z' })])).toEqual(['sparkplug.0.plant: unknown plant "plant-z"'])
    expect(issues([node({ edge_node: 'a/b' })])[0]).toMatch(/without "\/", "\+" or "#"/)
  })

  it('refuses an edge node or a device mapped twice', () => {
    expect(issues([node(), node()])).toEqual([
      'sparkplug.1.edge_node: edge node Plant A/Edge 1 is listed twice',
    ])
    const twice = node()
    twice.devices.push({ ...twice.devices[0]! })
    expect(issues([twice])).toEqual(['sparkplug.0.devices.1.device: Meter 1 is mapped twice'])
  })
})

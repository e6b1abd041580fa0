import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadKawasanConfig } from '../services/cli/config.js'
import { loadSiteModel } from './site-model-file.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-config-'))
const file = (name: string, text: string) => {
  const p = join(dir, name)
  writeFileSync(p, text)
  return p
}

describe('config loading', () => {
  it('gives embedded defaults with no file and no environment', () => {
    const c = loadKawasanConfig(undefined, {})
    expect(c.broker.port).toBe(1883)
    expect(c.ingest.mode).toBe('in-broker')
    expect(c.influx.url).toBeUndefined()
  })

  it('lets environment variables override the file', () => {
    const f = file('k.yaml', 'broker:\n  port: 1999\ninflux:\n  database: plant\n')
    const c = loadKawasanConfig(f, { MQTT_PORT: '2000', INFLUX_URL: 'http://127.0.0.1:8086' })
    expect(c.broker.port).toBe(2000)
    expect(c.influx).toMatchObject({ database: 'plant', url: 'http://127.0.0.1:8086' })
  })

  it('reports every problem at once, naming the field, its source and what is wrong', () => {
    const f = file('bad.yaml', 'broker:\n  port: 99999\ningest:\n  mode: subscriber\n')
    let message = ''
    try {
      loadKawasanConfig(f, { INFLUX_URL: 'not a url' })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain('broker.port (from config file')
    expect(message).toContain('influx.url (from environment variable INFLUX_URL)')
    expect(message).toContain('ingest.url')
    expect(message).toContain('subscriber mode needs ingest.url')
  })

  it('says which file has a YAML syntax error', () => {
    expect(() => loadKawasanConfig(file('syntax.yaml', 'broker: [\n'), {})).toThrow(
      /syntax\.yaml is not valid YAML/,
    )
  })
})

describe('site model', () => {
  it('loads the example estate', () => {
    const m = loadSiteModel('infra/examples/cikarang/site.yaml')
    expect(m.plants.map((p) => p.id)).toEqual(['plant-a', 'plant-b', 'plant-c', 'plant-d'])
  })

  it('names each invalid field: bad ids, duplicates, unknown zone, plain passwords, unknown plants', () => {
    const f = file(
      'site.yaml',
      `cluster: { id: Bad Id, name: x, timezone: Mars/Olympus, grid_region: ID-JAMALI }
plants:
  - { id: p1, name: P, tenant: t, devices: [{ id: m, kind: meter, role: grid_import }, { id: m, kind: meter, role: solar }] }
identities:
  - { username: gw, plant: p9, password_hash: hunter2 }
`,
    )
    let message = ''
    try {
      loadSiteModel(f)
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain('cluster.id: must be lower-case')
    expect(message).toContain('cluster.timezone: must be an IANA time zone')
    expect(message).toContain('plants.0.devices.1.role')
    expect(message).toContain('identities.0.password_hash: must be an scrypt hash')
  })
})

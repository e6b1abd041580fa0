import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ENV_MAP, KAWASAN_ENV, loadKawasanConfig } from '../services/cli/config.js'
import { didYouMean } from './did-you-mean.js'
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
    expect(message).toContain(`${f}:2:9 broker.port: must be at most 65535 (is 99999)`)
    expect(message).toContain('influx.url (from environment variable INFLUX_URL): Invalid URL')
    expect(message).toContain(`${f}:4:3 ingest.url: subscriber mode needs ingest.url`)
  })

  it('refuses unknown settings at their line and column with the setting probably meant', () => {
    const f = file(
      'typo.yaml',
      'broker:\n  port: 1883\n  prot: 1884\nbrokr:\n  host: 0.0.0.0\ninflux:\n  localport: 18087\napi:\n  rateLimit: { maxx: 5 }\n',
    )
    let message = ''
    try {
      loadKawasanConfig(f, {})
    } catch (err) {
      expect((err as { code?: string }).code).toBe('CONFIG_INVALID')
      message = (err as Error).message
    }
    expect(message).toContain('has 4 problems')
    expect(message).toContain(`${f}:3:3 broker.prot: unknown setting "prot"; did you mean "port"?`)
    expect(message).toContain(`${f}:4:1 brokr: unknown setting "brokr"; did you mean "broker"?`)
    expect(message).toContain(
      `${f}:7:3 influx.localport: unknown setting "localport"; did you mean "localPort"?`,
    )
    expect(message).toContain(`${f}:9:16 api.rateLimit.maxx: unknown setting "maxx"; did you mean "max"?`)
  })

  it('says which file has a YAML syntax error', () => {
    expect(() => loadKawasanConfig(file('syntax.yaml', 'broker: [\n'), {})).toThrow(
      /syntax\.yaml is not valid YAML/,
    )
  })
})

describe('environment variables', () => {
  it('coerces by the type of the setting, not by what the value looks like', () => {
    const c = loadKawasanConfig(undefined, {
      INFLUX_PASSWORD: '12345678',
      INFLUX_DATABASE: '2024',
      INFLUX_USERNAME: 'true',
      MQTT_PORT: '1999',
      API_ENABLED: 'false',
    })
    expect(c.influx).toMatchObject({ password: '12345678', database: '2024', username: 'true' })
    expect(c.broker.port).toBe(1999)
    expect(c.api.enabled).toBe(false)
  })

  it('gives every setting a KAWASAN_ variable named after its path, e.g. the private InfluxDB port', () => {
    expect(KAWASAN_ENV.find((v) => v.path === 'influx.localPort')?.name).toBe('KAWASAN_INFLUX_LOCAL_PORT')
    expect(KAWASAN_ENV.find((v) => v.path === 'api.rateLimit.windowMs')?.name).toBe(
      'KAWASAN_API_RATE_LIMIT_WINDOW_MS',
    )
    const c = loadKawasanConfig(undefined, {
      KAWASAN_INFLUX_LOCAL_PORT: '18099',
      KAWASAN_BROKER_DRAIN_TIMEOUT_MS: '0',
      KAWASAN_API_CORS_ORIGINS: 'https://a.example, https://b.example',
      KAWASAN_INGEST_MAX_AGE_DAYS: '1.5',
    })
    expect(c.influx.localPort).toBe(18099)
    expect(c.broker.drainTimeoutMs).toBe(0)
    expect(c.api.corsOrigins).toEqual(['https://a.example', 'https://b.example'])
    expect(c.ingest.maxAgeDays).toBe(1.5)
  })

  it('keeps every older variable name working as an alias of the derived one', () => {
    for (const [alias, path] of Object.entries(ENV_MAP)) {
      const v = KAWASAN_ENV.find((x) => x.path === path)
      expect(v, alias).toBeDefined()
      expect(v!.name === alias || v!.aliases.includes(alias), alias).toBe(true)
    }
    expect(loadKawasanConfig(undefined, { API_PORT: '8181' }).api.port).toBe(8181)
    expect(loadKawasanConfig(undefined, { KAWASAN_API_PORT: '8182' }).api.port).toBe(8182)
  })

  it('takes the KAWASAN_ name over an alias that disagrees, with a warning that hides secrets', () => {
    const warnings: string[] = []
    const c = loadKawasanConfig(
      undefined,
      { API_PORT: '8080', KAWASAN_API_PORT: '9090', INFLUX_PASSWORD: 'a', KAWASAN_INFLUX_PASSWORD: 'b' },
      (w) => warnings.push(w),
    )
    expect(c.api.port).toBe(9090)
    expect(c.influx.password).toBe('b')
    expect(warnings).toEqual([
      'environment variables KAWASAN_INFLUX_PASSWORD and INFLUX_PASSWORD both set influx.password; using KAWASAN_INFLUX_PASSWORD=(hidden)',
      'environment variables KAWASAN_API_PORT and API_PORT both set api.port; using KAWASAN_API_PORT=9090',
    ])
  })

  it('refuses a value that does not fit the type, naming the variable', () => {
    let message = ''
    try {
      loadKawasanConfig(undefined, {
        MQTT_PORT: 'eighteen',
        KAWASAN_API_ENABLED: 'maybe',
        KAWASAN_INGEST_CONNECTIONS: '2.5',
      })
    } catch (err) {
      message = (err as Error).message
    }
    expect(message).toContain(
      'broker.port (from environment variable MQTT_PORT): "eighteen" is not a whole number',
    )
    expect(message).toContain(
      'api.enabled (from environment variable KAWASAN_API_ENABLED): "maybe" is not true or false',
    )
    expect(message).toContain('"2.5" is not a whole number')
  })

  it('warns about an unknown KAWASAN_ variable with the name probably meant, and ignores compose ones', () => {
    const warnings: string[] = []
    loadKawasanConfig(
      undefined,
      { KAWASAN_INFLUX_PASWORD: 'x', KAWASAN_VERSION: '0.1.0', KAWASAN_SITE_DIR: '.', OTHER: '1' },
      (w) => warnings.push(w),
    )
    expect(warnings).toEqual([
      'environment variable KAWASAN_INFLUX_PASWORD is not a Kawasan setting and is ignored; did you mean KAWASAN_INFLUX_PASSWORD?',
    ])
  })
})

describe('did you mean', () => {
  it('finds swapped letters, other case, an extra letter and a longer spelling', () => {
    expect(didYouMean('feul', ['fuel', 'kind', 'role'])).toBe('fuel')
    expect(didYouMean('rated_kW', ['rated_kw', 'role'])).toBe('rated_kw')
    expect(didYouMean('poll_intervall_s', ['poll_interval_s', 'timeout_ms'])).toBe('poll_interval_s')
    expect(didYouMean('max_mbytes', ['dir', 'max_mb', 'fsync'])).toBe('max_mb')
    expect(didYouMean('brokr', ['cluster', 'plant', 'broker'])).toBe('broker')
    expect(didYouMean('colour', ['id', 'name', 'timezone'])).toBeUndefined()
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
    expect(message).toContain('plants[0].devices[1].role: must be one of grid_import, grid_export')
    expect(message).toContain('identities[0].password_hash: must be an scrypt hash')
  })
})

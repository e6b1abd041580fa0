import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ENV_MAP, FOREIGN_KAWASAN_ENV, KAWASAN_ENV } from './config.js'
import { CONFIG_REFERENCE_FILE, renderConfigReference } from './config-reference.js'

describe('docs/CONFIGURATION.md', () => {
  it('is what `npm run docs:config` generates from the config schema (run it after changing a setting)', () => {
    expect(readFileSync(CONFIG_REFERENCE_FILE, 'utf8')).toBe(renderConfigReference())
  })

  it('lists every setting with its variable and every older alias', () => {
    const text = renderConfigReference()
    for (const v of KAWASAN_ENV) expect(text).toContain(`| \`${v.path}\` | \`${v.name}\``)
    for (const alias of Object.keys(ENV_MAP)) expect(text).toContain(`\`${alias}\``)
    expect(text).toContain('| `influx.localPort` | `KAWASAN_INFLUX_LOCAL_PORT` | whole number | `18086` |')
    expect(text).toContain('| `broker.port` | `KAWASAN_BROKER_PORT`, `MQTT_PORT` | whole number | `1883` |')
  })

  it('README names only variables the config reads', () => {
    const readme = readFileSync('README.md', 'utf8')
    const section = readme.slice(
      readme.indexOf('## Configuration'),
      readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5),
    )
    const named = [...section.matchAll(/`([A-Z][A-Z0-9_]*[A-Z0-9])`/g)].map((m) => m[1]!)
    const known = new Set([...KAWASAN_ENV.flatMap((v) => [v.name, ...v.aliases]), ...FOREIGN_KAWASAN_ENV])
    expect(named.length).toBeGreaterThan(10)
    expect(named.filter((n) => !known.has(n))).toEqual([])
  })
})

/**
 * The defaults the agent README's config table gives (`key` [default]) are the ones the config
 * schema fills in: the table said `buffer.max_mb` [256] while the agent used 64.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseAgentConfig } from '../src/config.js'

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

/** Every `a.b` [default] in the rows of the README's config table; placeholders (`<plant>`) left out. */
function documentedDefaults(): [string, string][] {
  const table = README.slice(README.indexOf('| key '), README.indexOf('| `devices[]`'))
  const found: [string, string][] = []
  for (const m of table.matchAll(/`([a-z_]+(?:\.[a-z_]+)*)` \[([^\]]+)\]/g)) {
    const value = (m[2] as string).replaceAll('`', '')
    if (!value.includes('<')) found.push([m[1] as string, value])
  }
  return found
}

const minimal = parseAgentConfig(
  `cluster: cikarang
plant: plant-a
broker: { url: "mqtt://127.0.0.1:1883" }
devices:
  - { id: sim-grid, role: grid_import, driver: simulator, rated_kw: 100 }
`,
  'agent.yaml',
)

describe('agent README config table', () => {
  const defaults = documentedDefaults()

  it('documents defaults for the settings that have them', () => {
    expect(defaults.map(([k]) => k)).toEqual(
      expect.arrayContaining(['buffer.max_mb', 'drain.rate', 'memory.heap_step_mb', 'status.interval_s']),
    )
  })

  it.each(defaults)('%s defaults to %s, as the schema says', (key, documented) => {
    const actual = key.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], minimal)
    expect(String(actual)).toBe(documented)
  })
})

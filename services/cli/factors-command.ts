/**
 * `kawasan factors list|show|diff`: the factor registry as an auditor reads it (docs/FACTORS.md).
 * Prints every value with its unit, gases, type, data year and source; never computes anything.
 */

import { parseArgs } from 'node:util'
import {
  countryOf,
  type FactorSet,
  type FuelFactor,
  type GridFactor,
} from '../../shared/emissions/factors/factor-sets.js'
import { type GwpSetName, isGwpSetName } from '../../shared/emissions/factors/gwp.js'
import { FactorRegistry } from '../../shared/emissions/factors/registry.js'
import { KawasanError } from '../../shared/errors.js'
import { FACTORS_HELP } from './factors-options.js'

type Section = 'grid' | 'residual_mix' | 'supplier_specific' | 'reference' | 'thermal'
const SECTIONS: readonly { key: Section; label: string }[] = [
  { key: 'grid', label: 'location-based grid average' },
  { key: 'residual_mix', label: 'market-based (residual mix / supplier residual)' },
  { key: 'supplier_specific', label: 'market-based supplier-specific (per plant)' },
  { key: 'reference', label: 'reference only: not used for any figure' },
  { key: 'thermal', label: 'purchased steam/heat (Scope 2)' },
]

export interface FactorsCommandOptions {
  /** Clock for "in force today" (injected in tests). */
  now?: () => number
}

export async function factorsCommand(
  args: string[],
  out: NodeJS.WritableStream,
  opts: FactorsCommandOptions = {},
): Promise<number> {
  const write = (s = '') => out.write(`${s}\n`)
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(args)
  } catch (err) {
    write(`kawasan factors: ${(err as Error).message}\n\n${FACTORS_HELP}`)
    return 1
  }
  const { values, positionals } = parsed
  const [sub, ...rest] = positionals
  const fail = (msg: string) => {
    write(`kawasan factors: ${msg}\n\n${FACTORS_HELP}`)
    return 1
  }
  if (values.help || !sub) {
    write(FACTORS_HELP)
    return values.help ? 0 : 1
  }
  const gwp = values.gwp
  if (gwp !== undefined && !isGwpSetName(gwp)) return fail(`--gwp must be AR5 or AR6, not "${gwp}"`)
  try {
    const registry = FactorRegistry.load({
      factorFile: values['factor-file'],
      gwp: gwp as GwpSetName | undefined,
    })
    const today = new Date(opts.now?.() ?? Date.now()).toISOString().slice(0, 10)
    switch (sub) {
      case 'list':
        return list(registry, today, write)
      case 'show': {
        const what = rest[0]
        if (!what) return fail('show needs a region or country code (e.g. ES, ID-JAMALI) or "fuels"')
        const set = values.set ? registry.get(values.set) : registry.factorSetFor(values.date ?? today)
        return show(set, what, write)
      }
      case 'diff': {
        const [a, b] = rest
        if (!a || !b) return fail('diff needs two set versions, e.g. diff 2025.1 2026.1')
        return diff(registry.get(a), registry.get(b), write)
      }
      default:
        return fail(`unknown subcommand "${sub}"`)
    }
  } catch (err) {
    if (err instanceof KawasanError) {
      write(`kawasan factors: ${err.code}: ${err.message}`)
      return 1
    }
    throw err
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      set: { type: 'string' },
      date: { type: 'string' },
      gwp: { type: 'string' },
      'factor-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

function list(registry: FactorRegistry, today: string, write: (s?: string) => void): number {
  const current = registry.factorSetFor(today).version
  write('version       valid from   valid to     published    GWP  origin')
  for (const p of registry.list()) {
    const mark = p.version === current ? `  ← in force ${today}` : ''
    write(
      `${p.version.padEnd(13)} ${(p.valid_from ?? '…').padEnd(12)} ${(p.valid_to ?? 'open').padEnd(12)} ${p.published.padEnd(12)} ${p.gwp.padEnd(4)} ${p.origin}${p.schema === 1 ? ' (legacy: factor types unclassified)' : ''}${mark}`,
    )
  }
  return 0
}

function fmt(x: number): string {
  return Number(x.toPrecision(6)).toString()
}

function factorLines(section: Section, f: GridFactor, write: (s?: string) => void): void {
  const per = section === 'thermal' ? 'kWh heat' : 'kWh'
  write(
    `  ${f.region.padEnd(14)} ${fmt(f.kg_per_kwh)} kg ${f.gases}/${per} (${f.value} ${f.unit})  gases ${f.gases}  type ${f.type}  year ${f.year}`,
  )
  if (f.name) write(`      ${f.name}`)
  write(`      source: ${f.source}`)
  if (f.licence) write(`      licence: ${f.licence}`)
  if (f.confidence) write(`      confidence: ${f.confidence}`)
  if (f.note) write(`      note: ${f.note}`)
  if (f.hourly)
    write(
      `      hourly: ${f.hourly.kg_co2e_per_kwh.length} hourly values from ${new Date(f.hourly.start_ms).toISOString()} (${f.hourly.source})`,
    )
}

function header(set: FactorSet, write: (s?: string) => void): void {
  write(
    `Factor set ${set.version} (${set.origin}; valid ${set.valid_from ?? '…'} to ${set.valid_to ?? 'open'}; GWP ${set.gwp.set}: CH4 ${set.gwp.ch4}${set.gwp.ch4_non_fossil !== set.gwp.ch4 ? ` fossil / ${set.gwp.ch4_non_fossil} non-fossil` : ''}, N2O ${set.gwp.n2o})`,
  )
}

function show(set: FactorSet, what: string, write: (s?: string) => void): number {
  header(set, write)
  if (what === 'fuels') {
    write('fuels (stationary combustion, per TJ of fuel at net calorific value)')
    for (const f of Object.values(set.fuels) as FuelFactor[]) fuelLines(f, write)
    return 0
  }
  if (what === 'thermal') {
    write('thermal: purchased steam/heat (Scope 2)')
    for (const f of Object.values(set.thermal)) factorLines('thermal', f, write)
    return 0
  }
  const key = what.toUpperCase()
  const matches = (region: string) => region === key || (!key.includes('-') && countryOf(region) === key)
  let found = 0
  for (const { key: section, label } of SECTIONS) {
    const entries = Object.values(set[section]).filter(
      (f) => section === 'supplier_specific' || matches(f.region),
    )
    if (section === 'supplier_specific' && entries.length > 0 && found === 0) continue
    if (entries.length === 0) continue
    write(`${section}: ${label}`)
    for (const f of entries.sort((a, b) => a.region.localeCompare(b.region))) factorLines(section, f, write)
    found += entries.length
  }
  if (found === 0) {
    write(`no factor for "${what}" in set ${set.version}`)
    return 1
  }
  const grids = Object.keys(set.grid).filter(matches)
  for (const r of grids)
    if (!set.residual_mix[r])
      write(
        `  (${r}: no residual mix in this set: market-based Scope 2 falls back to the grid average, flagged)`,
      )
  return 0
}

function fuelLines(f: FuelFactor, write: (s?: string) => void): void {
  write(
    `  ${f.fuel.padEnd(20)} CO2 ${f.co2_kg_per_tj} kg/TJ${f.co2_biogenic ? ' (biogenic, memo item)' : ''}  CH4 ${f.ch4_kg_per_tj} kg/TJ  N2O ${f.n2o_kg_per_tj} kg/TJ  NCV ${f.ncv_mj_per_unit} MJ/${f.meter_metric.replace(/^(fuel|h2)_/, '')}  year ${f.year}`,
  )
  write(`      ${f.name}${f.ncv_note ? `; ${f.ncv_note}` : ''}`)
  if (f.volume_reference)
    write(
      `      volume at ${f.volume_reference.temperature_c} °C, ${f.volume_reference.pressure_kpa} kPa (${f.volume_reference.label ?? ''})`,
    )
  write(`      source: ${f.source}`)
  if (f.confidence) write(`      confidence: ${f.confidence}`)
}

function diff(a: FactorSet, b: FactorSet, write: (s?: string) => void): number {
  write(`Changes from ${a.version} to ${b.version}`)
  if (a.gwp.set !== b.gwp.set) write(`  GWP ${a.gwp.set} → ${b.gwp.set}`)
  let n = 0
  for (const { key: section } of SECTIONS) {
    const keys = [...new Set([...Object.keys(a[section]), ...Object.keys(b[section])])].sort()
    for (const k of keys) {
      const x = a[section][k]
      const y = b[section][k]
      if (x && !y)
        write(
          `  - ${section} ${k}: removed (was ${fmt(x.kg_per_kwh)} kg ${x.gases}/kWh, ${x.type}, ${x.year})`,
        )
      else if (!x && y)
        write(
          `  + ${section} ${k}: added ${fmt(y.kg_per_kwh)} kg ${y.gases}/kWh, ${y.type}, ${y.year}; ${y.source}`,
        )
      else if (x && y && x.kg_per_kwh === y.kg_per_kwh && x.gases === y.gases && x.year === y.year) {
        if (x.type === y.type) continue
        write(
          `  = ${section} ${k}: ${fmt(y.kg_per_kwh)} kg ${y.gases}/kWh unchanged; type ${x.type} → ${y.type}`,
        )
      } else if (x && y) {
        const pct =
          x.kg_per_kwh > 0 ? ` (${((100 * (y.kg_per_kwh - x.kg_per_kwh)) / x.kg_per_kwh).toFixed(1)} %)` : ''
        write(
          `  ~ ${section} ${k}: ${fmt(x.kg_per_kwh)} → ${fmt(y.kg_per_kwh)} kg/kWh${pct}; gases ${x.gases} → ${y.gases}; type ${x.type} → ${y.type}; year ${x.year} → ${y.year}; ${y.source}`,
        )
      } else continue
      n++
    }
  }
  const fuels = [
    ...new Set([...Object.keys(a.fuels), ...Object.keys(b.fuels)]),
  ].sort() as (keyof FactorSet['fuels'])[]
  for (const k of fuels) {
    const x = a.fuels[k]
    const y = b.fuels[k]
    if (x && !y) write(`  - fuel ${k}: removed`)
    else if (!x && y)
      write(
        `  + fuel ${k}: added CO2 ${y.co2_kg_per_tj} kg/TJ, NCV ${y.ncv_mj_per_unit} MJ/unit; ${y.source}`,
      )
    else if (x && y) {
      const fields = ['co2_kg_per_tj', 'ch4_kg_per_tj', 'n2o_kg_per_tj', 'ncv_mj_per_unit'] as const
      const changed = fields.filter((f) => x[f] !== y[f]).map((f) => `${f} ${x[f]} → ${y[f]}`)
      if (changed.length === 0) continue
      write(`  ~ fuel ${k}: ${changed.join('; ')}`)
    } else continue
    n++
  }
  write(`${n} change${n === 1 ? '' : 's'}`)
  return 0
}

/**
 * The factor registry: every factor set Kawasan knows (bundled, plus the operator's file), each
 * with its validity period, and the rule that picks the one in force for a rollup's date
 * (docs/FACTORS.md). Old sets stay loadable so a row computed with one stays explainable.
 *
 * Rule: among the sets whose period holds the local date, an operator set wins over a bundled
 * one (it is the operator's contract data), then the latest `valid_from` wins.
 */
import { EmissionsError } from '../errors.js'
import { localDateOf } from '../local-days.js'
import { BUNDLED_FACTOR_SETS, bundledFactorSet, type FactorSet, withGwp } from './factor-sets.js'
import type { GwpSetName } from './gwp.js'
import { loadOperatorFactorFile } from './operator-file.js'

/**
 * Validity of bundled sets written before sets carried their own (schema 1). 2025.1 was the
 * only set until 2026.1 took over on 2026-01-01.
 */
const LEGACY_VALIDITY: Readonly<Record<string, { valid_from?: string; valid_to?: string }>> = {
  '2025.1': { valid_to: '2025-12-31' },
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/

export interface FactorSetPeriod {
  version: string
  origin: string
  valid_from: string | undefined
  valid_to: string | undefined
  published: string
  gwp: string
  schema: 1 | 2
}

export class FactorRegistry {
  private readonly sets: FactorSet[]

  constructor(sets: readonly FactorSet[]) {
    const seen = new Set<string>()
    for (const s of sets) {
      if (seen.has(s.version))
        throw new EmissionsError('EMISSIONS_FACTOR_SET_INVALID', `factor set "${s.version}" is loaded twice`)
      seen.add(s.version)
    }
    this.sets = sets.map((s) => {
      const legacy = LEGACY_VALIDITY[s.version]
      if (s.schema !== 1 || !legacy || s.origin !== 'bundled') return s
      return { ...s, ...legacy }
    })
  }

  /** The bundled sets, plus the operator's file when given; `gwp` overrides every set's default. */
  static load(opts: { factorFile?: string | undefined; gwp?: GwpSetName | undefined } = {}): FactorRegistry {
    const sets: FactorSet[] = BUNDLED_FACTOR_SETS.map((v) => bundledFactorSet(v))
    if (opts.factorFile) sets.push(loadOperatorFactorFile(opts.factorFile))
    const reg = new FactorRegistry(sets)
    return opts.gwp ? reg.withGwp(opts.gwp) : reg
  }

  withGwp(gwp: GwpSetName): FactorRegistry {
    return new FactorRegistry(this.sets.map((s) => withGwp(s, gwp)))
  }

  /** Every set with its period, oldest first. */
  list(): FactorSetPeriod[] {
    return [...this.sets]
      .sort(
        (a, b) =>
          (a.valid_from ?? '').localeCompare(b.valid_from ?? '') || a.version.localeCompare(b.version),
      )
      .map((s) => ({
        version: s.version,
        origin: s.origin,
        valid_from: s.valid_from,
        valid_to: s.valid_to,
        published: s.published,
        gwp: s.gwp.set,
        schema: s.schema,
      }))
  }

  /** A set by version, whatever its period (to explain an old row). */
  get(version: string): FactorSet {
    const s = this.sets.find((x) => x.version === version)
    if (!s)
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_INVALID',
        `no factor set "${version}" (have ${this.sets.map((x) => x.version).join(', ')})`,
      )
    return s
  }

  /**
   * The set in force on a local date (`YYYY-MM-DD`), or at an instant (epoch ms) in a time zone:
   * a rollup passes its window's start and the cluster's zone.
   */
  factorSetFor(date: string | number, timeZone?: string): FactorSet {
    let day: string
    if (typeof date === 'number') {
      if (!timeZone)
        throw new EmissionsError(
          'EMISSIONS_DATE_INVALID',
          'factorSetFor(epoch ms) needs the cluster time zone',
        )
      day = localDateOf(date, timeZone)
    } else {
      if (!DATE_RE.test(date))
        throw new EmissionsError('EMISSIONS_DATE_INVALID', `"${date}" is not YYYY-MM-DD`)
      day = date
    }
    const inForce = this.sets.filter(
      (s) =>
        (s.valid_from === undefined || s.valid_from <= day) &&
        (s.valid_to === undefined || day <= s.valid_to),
    )
    if (inForce.length === 0)
      throw new EmissionsError(
        'EMISSIONS_FACTOR_SET_NOT_IN_FORCE',
        `no factor set is in force on ${day} (${this.list()
          .map((p) => `${p.version}: ${p.valid_from ?? '…'} to ${p.valid_to ?? '…'}`)
          .join('; ')})`,
      )
    inForce.sort(
      (a, b) =>
        Number(b.origin !== 'bundled') - Number(a.origin !== 'bundled') ||
        (b.valid_from ?? '').localeCompare(a.valid_from ?? ''),
    )
    return inForce[0]!
  }
}

let defaultRegistry: FactorRegistry | undefined

/** The set of the bundled registry in force on a date (see FactorRegistry.factorSetFor). */
export function factorSetFor(date: string | number, timeZone?: string): FactorSet {
  defaultRegistry ??= FactorRegistry.load()
  return defaultRegistry.factorSetFor(date, timeZone)
}

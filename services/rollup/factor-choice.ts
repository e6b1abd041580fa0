/**
 * Which emission factor set a rollup window uses (docs/FACTORS.md "Sets, versions and validity
 * periods"): the registry (bundled sets + the operator's factor file, GWP set applied) is built
 * once at start; each window uses the set in force on its local date in the cluster's zone, unless
 * config pins one version (`rollup.factorSet`).
 */
import { createHash } from 'node:crypto'
import { FactorRegistry, type FactorSet } from '../../shared/emissions/index.js'
import type { RollupConfig } from './config.js'

export interface RollupFactors {
  /** The set for a window whose start falls on local date `date` (YYYY-MM-DD, cluster zone). */
  forDate(date: string): FactorSet
  /** The pinned version, if any. */
  readonly pinned: string | undefined
  /**
   * What the choice is, for logs and the backfill position: the pinned version, or `by date` with
   * every set; plus a digest of the sets' contents, so an edited factor file (same version, new
   * value) is a different choice and a backfill over the same range starts over.
   */
  readonly label: string
}

function digest(sets: readonly FactorSet[]): string {
  return createHash('sha256').update(JSON.stringify(sets)).digest('hex').slice(0, 12)
}

/** The choice from a registry: `pinned` (a version in it) or the set in force per date. */
export function registryFactors(registry: FactorRegistry, pinned?: string): RollupFactors {
  if (pinned !== undefined) {
    const set = registry.get(pinned)
    return { forDate: () => set, pinned, label: `${pinned} (${set.gwp.set}) #${digest([set])}` }
  }
  const sets = registry.list().map((p) => registry.get(p.version))
  const periods = registry
    .list()
    .map((p) => `${p.version} ${p.valid_from ?? '…'}..${p.valid_to ?? '…'} ${p.gwp}`)
    .join(', ')
  const cache = new Map<string, FactorSet>()
  return {
    forDate(date) {
      let set = cache.get(date)
      if (!set) {
        set = registry.factorSetFor(date)
        cache.set(date, set)
      }
      return set
    },
    pinned: undefined,
    label: `by date: ${periods} #${digest(sets)}`,
  }
}

/** The choice the config describes (`rollup.factorFile`, `rollup.gwp`, `rollup.factorSet`). */
export function rollupFactors(config: Pick<RollupConfig, 'factorSet' | 'factorFile' | 'gwp'>): RollupFactors {
  return registryFactors(
    FactorRegistry.load({ factorFile: config.factorFile, gwp: config.gwp }),
    config.factorSet,
  )
}

/** One set for every date (tests, or a caller that built its own set). */
export function pinnedFactors(set: FactorSet): RollupFactors {
  return {
    forDate: () => set,
    pinned: set.version,
    label: `${set.version} (${set.gwp.set}) #${digest([set])}`,
  }
}

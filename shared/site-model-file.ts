/**
 * Reads and validates a site model file (YAML or JSON). Besides the schema (site-model.ts), the
 * cluster's grid region must be one the emission factor registry knows, or every rollup of the
 * estate would fail on its first day. Problems are reported together with their line and column.
 */
import { describeIssues, problemsMessage } from './config-issues.js'
import { readConfigSource } from './config-loader.js'
import type { ConfigSource } from './config-source.js'
import { didYouMean } from './did-you-mean.js'
import { BUNDLED_FACTOR_SETS, bundledFactorSet } from './emissions/factors/factor-sets.js'
import { KawasanError } from './errors.js'
import { SiteIndex, type SiteModel, siteModelSchema } from './site-model.js'

export interface SiteModelCheckOptions {
  /** Grid regions an emission factor set has; default: the regions of every bundled set. */
  gridRegions?: readonly string[]
}

/** Grid regions of the bundled factor sets (the registry the rollup reads). */
export function knownGridRegions(): string[] {
  const regions = new Set<string>()
  for (const version of BUNDLED_FACTOR_SETS) {
    for (const region of Object.keys(bundledFactorSet(version).grid)) regions.add(region)
  }
  return [...regions].sort()
}

export type SiteModelResult = { ok: true; model: SiteModel } | { ok: false; problems: string[] }

/** Validates a parsed site model document; `source` gives the positions for messages. */
export function checkSiteModel(source: ConfigSource, options: SiteModelCheckOptions = {}): SiteModelResult {
  const result = siteModelSchema.safeParse(source.data)
  const problems = result.success
    ? []
    : describeIssues(result.error.issues, { schema: siteModelSchema, data: source.data, source })
  const region = (source.data as { cluster?: { grid_region?: unknown } } | null)?.cluster?.grid_region
  if (typeof region === 'string' && region.length > 0) {
    const regions = options.gridRegions ?? knownGridRegions()
    if (!regions.includes(region)) {
      const guess = didYouMean(region, regions)
      const at = source.valueAt(['cluster', 'grid_region'])
      problems.push(
        `  - ${source.file}:${at.line}:${at.col} cluster.grid_region: "${region}" is not a grid region of the emission factor sets${guess ? `; did you mean "${guess}"?` : ''} (known: ${regions.join(', ')})`,
      )
    }
  }
  if (problems.length > 0 || !result.success) return { ok: false, problems: sortByLine(problems) }
  return { ok: true, model: result.data }
}

function sortByLine(lines: string[]): string[] {
  const lineOf = (l: string) => Number(/:(\d+):\d+ /.exec(l)?.[1] ?? Number.MAX_SAFE_INTEGER)
  return [...lines].sort((a, b) => lineOf(a) - lineOf(b))
}

export function loadSiteModel(file: string, options: SiteModelCheckOptions = {}): SiteModel {
  const result = checkSiteModel(readConfigSource(file), options)
  if (!result.ok) {
    throw new KawasanError(
      'SITE_MODEL_INVALID',
      problemsMessage(`site model ${file}`, result.problems, 'fix them and run `kawasan site check` again'),
    )
  }
  return result.model
}

export function loadSiteIndex(file: string, options: SiteModelCheckOptions = {}): SiteIndex {
  return new SiteIndex(loadSiteModel(file, options))
}

/**
 * What a key may see (tenant isolation, docs/DESIGN.md §8). One place decides it, and every route asks here:
 * a tenant key sees only its tenant's plants, never the estate's shared assets, never records
 * without a plant, and cluster totals only when the site model says the estate shares them. An
 * unknown plant and another tenant's plant get the same answer, so a key cannot probe which exist.
 */
import { CLUSTER_TOTAL } from '../../shared/rollup-record.js'
import type { Plant, SiteIndex } from '../../shared/site-model.js'
import type { AccessKey } from './api-keys.js'
import { ApiError } from './errors.js'

export class Access {
  readonly plants: readonly Plant[]
  readonly plantIds: ReadonlySet<string>
  /** May this key read cluster totals (`_cluster` rows)? */
  readonly clusterTotals: boolean
  /** Estate-wide key: sees shared assets and dead letters without a plant. */
  readonly estate: boolean

  constructor(
    readonly key: AccessKey,
    readonly site: SiteIndex,
  ) {
    const model = site.model
    this.estate = !key.tenant
    this.plants = key.tenant ? model.plants.filter((p) => p.tenant === key.tenant) : model.plants
    this.plantIds = new Set(this.plants.map((p) => p.id))
    this.clusterTotals = this.estate || model.cluster.share_cluster_totals
  }

  /** Plants named in a request (comma-separated list), or all visible ones; 400 on any unknown. */
  selectPlants(list: string | undefined): string[] {
    if (!list) return this.plants.map((p) => p.id)
    const ids = [...new Set(list.split(',').map((s) => s.trim()))].filter(Boolean)
    for (const id of ids) {
      if (!this.plantIds.has(id))
        throw new ApiError('UNKNOWN_PLANT', `unknown plant "${clip(id)}" (see GET /api/v1/plants)`)
    }
    return ids
  }

  /** Whether a row tagged with this plant (a plant id, `_cluster`, `shared` or none) is visible. */
  seesTag(plant: string | undefined): boolean {
    if (plant === CLUSTER_TOTAL) return this.clusterTotals
    if (plant && this.plantIds.has(plant)) return true
    return this.estate
  }
}

/** A value from a request, shortened for an error message. */
export function clip(value: string, max = 64): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?')
  return printable.length > max ? `${printable.slice(0, max)}…` : printable
}

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

/** An entry a key may not write: where it is, the plant it names, the other plant's entry it would change. */
export interface ForeignEntry {
  where: string
  plant: unknown
  amends?: string | undefined
}

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

  /**
   * Who made a change, as audit trails record it: the key's id, and for a tenant key its tenant
   * (`id@tenant`; ids and tenants never hold `@`). Never the secret.
   */
  get actor(): string {
    return this.key.tenant ? `${this.key.id}@${this.key.tenant}` : this.key.id
  }

  /**
   * May this key enter data for `plant` (the generic `plant` field of any entry, whatever its
   * kind)? An estate key any plant (the entry's own checks refuse unknown ones); a tenant key only
   * its own plants: another tenant's, an unknown one and a missing one are all refused alike.
   */
  writesPlant(plant: unknown): boolean {
    return this.estate || (typeof plant === 'string' && this.plantIds.has(plant))
  }

  /** 403 PLANT_FORBIDDEN naming every entry whose plant this key may not write; nothing is stored. */
  refuseForeignPlants(entries: readonly ForeignEntry[]): void {
    const foreign = entries.filter((e) => !this.writesPlant(e.plant))
    if (foreign.length > 0) throw this.foreignPlants(foreign)
  }

  /** The 403 for entries naming plants this key may not write. */
  foreignPlants(foreign: readonly ForeignEntry[]): ApiError {
    return new ApiError('PLANT_FORBIDDEN', foreignPlantsMessage(this.key, foreign))
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

/** "key k1 (editor of tenant t) may enter data only for plants of t: entries[1] names plant "plant-b"; nothing was stored". */
export function foreignPlantsMessage(key: AccessKey, foreign: readonly ForeignEntry[]): string {
  const named = foreign.slice(0, 10).map((f) => {
    if (f.amends) return `${f.where} would change entry "${clip(f.amends)}", which is not ${key.tenant}'s`
    return `${f.where} names ${typeof f.plant === 'string' ? `plant "${clip(f.plant)}"` : 'no plant'}`
  })
  const more = foreign.length > 10 ? ` and ${foreign.length - 10} more` : ''
  return `key "${key.id}" (${key.scope} of tenant ${key.tenant}) may enter data only for plants of ${key.tenant}: ${named.join(', ')}${more}; nothing was stored`
}

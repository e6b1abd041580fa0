/**
 * The certificates a rollup allocates: the site model's (declared there, counted as before) and
 * the register's that count in market-based Scope 2 (allocated to the plant and retired,
 * quality.ts), merged per plant. Pure.
 */
import type { SiteModel } from '../site-model.js'
import type { RegisterState } from './events.js'
import { countsInScope2 } from './quality.js'
import type { RegisteredCertificate } from './schema.js'

/** The site model with each plant's counted register certificates added to its own. */
export function withRegisterCertificates(site: SiteModel, state: RegisterState): SiteModel {
  const byPlant = new Map<string, RegisteredCertificate[]>()
  for (const c of state.certificates.values())
    if (countsInScope2(c)) byPlant.set(c.plant!, [...(byPlant.get(c.plant!) ?? []), c])
  return {
    ...site,
    plants: site.plants.map((p) => {
      const extra = byPlant.get(p.id)
      if (!extra) return p
      return {
        ...p,
        certificates: [
          ...p.certificates,
          ...extra.map((c) => ({
            id: c.id,
            type: c.type,
            mwh: c.mwh,
            from: c.from,
            to: c.to,
            technology: c.technology,
            ...(c.production_hour ? { production_hour: c.production_hour } : {}),
          })),
        ],
      }
    }),
  }
}

/**
 * The first local day whose rollups a set of events changes: the earliest `from` of a certificate
 * that counted before or counts after them (time-order allocation: every later day may change
 * too). Undefined when no counted certificate changed.
 */
export function firstAffectedDay(
  before: RegisterState,
  after: RegisterState,
  ids: Iterable<string>,
): string | undefined {
  let first: string | undefined
  for (const id of new Set(ids)) {
    const was = before.certificates.get(id)
    const now = after.certificates.get(id)
    const counted = [was, now].filter((c): c is RegisteredCertificate => c !== undefined && countsInScope2(c))
    if (counted.length === 0) continue
    if (counted.length === 2 && JSON.stringify(was) === JSON.stringify(now)) continue
    for (const c of counted) if (first === undefined || c.from < first) first = c.from
  }
  return first
}

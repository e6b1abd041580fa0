/**
 * Certificates (RECs, I-RECs, GOs, PPAs) in a window, pure. Rollups use `allocateCertificates`
 * (time order against import, below); `certificatesInWindow` is the even spread of a certificate's
 * volume over its days, kept for reports of volume per period.
 *
 * Rule (ours; GHG Protocol Scope 2 Guidance ch. 7 requires the instrument's vintage to match the
 * reporting period but says nothing finer): a certificate's MWh is spread evenly over the local days
 * it covers (`from`..`to` inclusive, in the cluster's zone), one equal share per day whatever the
 * day's length, and within a day evenly in time. A window gets the shares of the days it overlaps,
 * pro rata. So a whole-year certificate of 365 MWh gives 1 MWh to every local day (also to a 23 h
 * DST day), and 1/23 MWh to each hour of that day.
 */
import { localDateOf, localDatesIn, localDayWindow } from './local-days.js'
import type { TimeWindow } from './types.js'

export interface CertificateLike {
  id: string
  type?: string
  mwh: number
  /** First covered local day, YYYY-MM-DD. */
  from: string
  /** Last covered local day, YYYY-MM-DD (inclusive). */
  to: string
  technology?: string
}

export interface CertificateShare {
  id: string
  kwh: number
}

export interface CertificatesInWindow {
  kwh: number
  bucket_kwh: number[]
  used: CertificateShare[]
}

function daysInclusive(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000) + 1
}

/** Prorated certificate volume in a window and in each of its buckets. */
export function certificatesInWindow(
  certificates: readonly CertificateLike[],
  window: TimeWindow,
  timeZone: string,
  buckets: readonly TimeWindow[] = [window],
): CertificatesInWindow {
  const out: CertificatesInWindow = {
    kwh: 0,
    bucket_kwh: new Array<number>(buckets.length).fill(0),
    used: [],
  }
  if (certificates.length === 0) return out
  const dates = localDatesIn(window, timeZone)
  const dayWindows = new Map(dates.map((d) => [d, localDayWindow(d, timeZone)]))
  for (const cert of certificates) {
    const n = daysInclusive(cert.from, cert.to)
    if (n <= 0) continue
    const perDayKwh = (cert.mwh * 1000) / n
    let kwh = 0
    for (const date of dates) {
      if (date < cert.from || date > cert.to) continue
      const day = dayWindows.get(date)!
      const dayMs = day.end - day.start
      for (let j = 0; j < buckets.length; j++) {
        const b = buckets[j]!
        const overlap = Math.min(b.end, day.end, window.end) - Math.max(b.start, day.start, window.start)
        if (overlap > 0) {
          const part = (perDayKwh * overlap) / dayMs
          out.bucket_kwh[j]! += part
          kwh += part
        }
      }
    }
    if (kwh > 0) {
      out.used.push({ id: cert.id, kwh })
      out.kwh += kwh
    }
  }
  return out
}

/** An instrument as the allocation sees it; `production_hour` marks an hour-stamped one. */
export interface AllocatableCertificate extends CertificateLike {
  /** ISO instant of the production hour's start: a granular certificate, matched to that hour only. */
  production_hour?: string
}

/** How much of each certificate has been used (kWh), by id. */
export type CertificateUse = ReadonlyMap<string, number>

export interface CertificateAllocation extends CertificatesInWindow {
  /** Allocated per bucket (all instruments), ≤ the bucket's import. */
  applied_bucket_kwh: number[]
  /** Use of each certificate at each bucket start, and at the window end. */
  use: { start: CertificateUse[]; end: CertificateUse }
}

/**
 * Certificates allocated to a plant's grid import in time order (docs/CARBON-ACCOUNTING.md
 * "Certificates"): bucket by bucket, an hour-stamped instrument first covers the import of its own
 * hour, then the others, earliest-ending first, cover what is left while they are valid (their
 * local days) and not used up. `usedBefore` is each certificate's use before the window start, so a
 * period's windows computed in order allocate exactly what the period computed at once would.
 * `bucket_kwh` holds only the hour-stamped part: the hour-matched instruments that count towards
 * hourly CFE; `kwh` and `applied_bucket_kwh` hold all of it.
 */
export function allocateCertificates(
  certificates: readonly AllocatableCertificate[],
  usedBefore: CertificateUse,
  buckets: readonly TimeWindow[],
  bucketImportKwh: readonly number[],
  timeZone: string,
): CertificateAllocation {
  const n = buckets.length
  const used = new Map(usedBefore)
  const out: CertificateAllocation = {
    kwh: 0,
    bucket_kwh: new Array<number>(n).fill(0),
    applied_bucket_kwh: new Array<number>(n).fill(0),
    used: [],
    use: { start: [], end: used },
  }
  const inWindow = new Map<string, number>()
  const hourly = certificates.filter((c) => c.production_hour !== undefined)
  const period = certificates
    .filter((c) => c.production_hour === undefined)
    .sort((a, b) => a.to.localeCompare(b.to) || a.from.localeCompare(b.from) || a.id.localeCompare(b.id))
  const take = (c: AllocatableCertificate, need: number): number => {
    const left = c.mwh * 1000 - (used.get(c.id) ?? 0)
    const t = Math.max(0, Math.min(left, need))
    if (t > 0) {
      used.set(c.id, (used.get(c.id) ?? 0) + t)
      inWindow.set(c.id, (inWindow.get(c.id) ?? 0) + t)
    }
    return t
  }
  for (let j = 0; j < n; j++) {
    out.use.start.push(new Map(used))
    const b = buckets[j]!
    let need = Math.max(0, bucketImportKwh[j] ?? 0)
    for (const c of hourly) {
      if (need <= 0) break
      const hour = Date.parse(c.production_hour!)
      if (!(hour < b.end && hour + 3_600_000 > b.start)) continue
      const t = take(c, need)
      need -= t
      out.bucket_kwh[j]! += t
      out.applied_bucket_kwh[j]! += t
    }
    const date = localDateOf(b.start, timeZone)
    for (const c of period) {
      if (need <= 0) break
      if (date < c.from || date > c.to) continue
      const t = take(c, need)
      need -= t
      out.applied_bucket_kwh[j]! += t
    }
    out.kwh += out.applied_bucket_kwh[j]!
  }
  for (const c of certificates) {
    const kwh = inWindow.get(c.id)
    if (kwh) out.used.push({ id: c.id, kwh })
  }
  return out
}

/**
 * Each certificate's use after the given days, allocating each day's import in order as
 * `allocateCertificates` does (within a local day every period certificate is either valid for all
 * of it or for none, so a day's total gives the same result as its hours). `hourlyKwh` is the part
 * of the day's import already covered by hour-stamped instruments.
 */
export function certificateUseAfter(
  certificates: readonly AllocatableCertificate[],
  days: readonly { date: string; importKwh: number; hourlyKwh: number }[],
): Map<string, number> {
  const used = new Map<string, number>()
  const period = certificates
    .filter((c) => c.production_hour === undefined)
    .sort((a, b) => a.to.localeCompare(b.to) || a.from.localeCompare(b.from) || a.id.localeCompare(b.id))
  for (const d of [...days].sort((a, b) => a.date.localeCompare(b.date))) {
    let need = Math.max(0, d.importKwh - d.hourlyKwh)
    for (const c of period) {
      if (need <= 0) break
      if (d.date < c.from || d.date > c.to) continue
      const t = Math.max(0, Math.min(c.mwh * 1000 - (used.get(c.id) ?? 0), need))
      if (t > 0) used.set(c.id, (used.get(c.id) ?? 0) + t)
      need -= t
    }
  }
  return used
}

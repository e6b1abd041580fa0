/**
 * Certificates (RECs, I-RECs, GOs, PPAs) in a window, pure.
 *
 * Rule (ours; GHG Protocol Scope 2 Guidance ch. 7 requires the instrument's vintage to match the
 * reporting period but says nothing finer): a certificate's MWh is spread evenly over the local days
 * it covers (`from`..`to` inclusive, in the cluster's zone), one equal share per day whatever the
 * day's length, and within a day evenly in time. A window gets the shares of the days it overlaps,
 * pro rata. So a whole-year certificate of 365 MWh gives 1 MWh to every local day (also to a 23 h
 * DST day), and 1/23 MWh to each hour of that day.
 */
import { localDatesIn, localDayWindow } from './local-days.js'
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

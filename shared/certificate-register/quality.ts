/**
 * The Scope 2 Quality Criteria the register enforces (GHG Protocol Scope 2 Guidance ch. 7;
 * docs/CARBON-ACCOUNTING.md "Quality criteria"), pure:
 * - market boundary: the certificate's market is the market of the plant's grid region
 *   (shared/emissions/factors/market-boundaries.ts);
 * - vintage: production no earlier than 3 months before the first covered day and no later than
 *   3 months after the last one (ours: the Guidance asks for issue and redemption "as close as
 *   possible" to the consumption period and sets no figure); an hour-stamped instrument's
 *   production hour lies within the days it covers, since it is matched to that hour only;
 * - retirement: only retired certificates count (`countsInScope2`).
 */

import { marketOf } from '../emissions/factors/market-boundaries.js'
import { localDateOf } from '../emissions/local-days.js'
import type { RegisteredCertificate } from './schema.js'

export const VINTAGE_TOLERANCE_MONTHS = 3

export interface QualityProblem {
  code: 'CERTIFICATE_MARKET_MISMATCH' | 'CERTIFICATE_VINTAGE'
  message: string
}

/** `date` (YYYY-MM-DD) moved by `months` calendar months, clamped to the month's last day. */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number]
  const first = new Date(Date.UTC(y, m - 1 + months, 1))
  const last = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate()
  first.setUTCDate(Math.min(d, last))
  return first.toISOString().slice(0, 10)
}

/** Vintage against the covered period. */
export function vintageProblem(
  c: Pick<RegisteredCertificate, 'vintage_from' | 'vintage_to' | 'production_hour' | 'from' | 'to'>,
  timeZone: string,
): QualityProblem | undefined {
  if (c.production_hour !== undefined) {
    const day = localDateOf(Date.parse(c.production_hour), timeZone)
    if (day < c.from || day > c.to)
      return {
        code: 'CERTIFICATE_VINTAGE',
        message: `production hour ${c.production_hour} (local day ${day}) is outside the days it covers, ${c.from}..${c.to}: an hour-stamped instrument covers its own hour only`,
      }
    return undefined
  }
  const earliest = addMonths(c.from, -VINTAGE_TOLERANCE_MONTHS)
  const latest = addMonths(c.to, VINTAGE_TOLERANCE_MONTHS)
  if (c.vintage_from! < earliest || c.vintage_to! > latest)
    return {
      code: 'CERTIFICATE_VINTAGE',
      message: `production ${c.vintage_from}..${c.vintage_to} is not within ${VINTAGE_TOLERANCE_MONTHS} months of the consumption it covers (${c.from}..${c.to}: production must lie in ${earliest}..${latest})`,
    }
  return undefined
}

/** Market boundary against the plant's grid region. */
export function marketProblem(certMarket: string, gridRegion: string): QualityProblem | undefined {
  const want = marketOf(gridRegion)
  const got = marketOf(certMarket)
  if (got === want) return undefined
  return {
    code: 'CERTIFICATE_MARKET_MISMATCH',
    message: `market boundary ${certMarket} (market ${got}) is not the market of grid region ${gridRegion} (market ${want}); a certificate counts only in the market where the electricity is consumed`,
  }
}

/** Whether the certificate counts in a plant's market-based Scope 2: allocated and retired. */
export function countsInScope2(c: RegisteredCertificate): boolean {
  return c.status === 'retired' && c.plant !== undefined
}

/**
 * Market boundaries of energy attribute certificates (docs/CARBON-ACCOUNTING.md "Certificates",
 * quality criteria): a certificate counts for a plant only when it comes from the market the
 * plant's grid region belongs to (GHG Protocol Scope 2 Guidance ch. 7, Scope 2 Quality Criteria:
 * instruments are sourced from the same market as the electricity-consuming operation). A grid
 * region key (`ID-JAMALI`, `US-ERCT`, `ES`) starts with its ISO 3166 country; the country's market
 * is below. Countries not listed are a market of their own.
 */

/** Multi-country markets with one certificate system and an interconnected grid. */
const MULTI_COUNTRY: Record<string, readonly string[]> = {
  // Guarantees of Origin in the EECS system of the AIB (EU Renewable Energy Directive): one market
  // across the member states whose issuing bodies are AIB members.
  'EU-AIB': [
    'AT',
    'BE',
    'CH',
    'CY',
    'CZ',
    'DE',
    'DK',
    'EE',
    'ES',
    'FI',
    'FR',
    'GR',
    'HR',
    'HU',
    'IE',
    'IS',
    'IT',
    'LT',
    'LU',
    'LV',
    'NL',
    'NO',
    'PT',
    'SE',
    'SI',
    'SK',
  ],
  // The Scope 2 Guidance treats the United States and Canada as one market for RECs.
  'US-CA': ['US', 'CA'],
}

const COUNTRY_MARKET = new Map<string, string>(
  Object.entries(MULTI_COUNTRY).flatMap(([market, countries]) => countries.map((c) => [c, market])),
)

/** The markets, by code, with their countries (single-country markets are not listed). */
export const MARKETS: Readonly<Record<string, readonly string[]>> = MULTI_COUNTRY

/**
 * The market of a grid region, a country code or a market code: `ID-JAMALI` → `ID`, `ES` →
 * `EU-AIB`, `US-ERCT` → `US-CA`, `EU-AIB` → `EU-AIB`. Upper-cased; a certificate may name either.
 */
export function marketOf(regionOrMarket: string): string {
  const key = regionOrMarket.trim().toUpperCase()
  if (key in MULTI_COUNTRY) return key
  const country = key.split('-')[0]!
  return COUNTRY_MARKET.get(country) ?? country
}

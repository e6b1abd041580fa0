/**
 * Global warming potentials (100-year) by IPCC assessment report. A factor set names its default
 * set; a caller may ask for another (ESRS E1 and IFRS S2 reporting use the latest, AR6; Paris
 * Agreement inventories use AR5). Which set a figure used is recorded with it (docs/FACTORS.md).
 *
 * AR6 splits methane: fossil CH4 also oxidises to fossil CO2, so it warms more than CH4 from
 * biomass (non-fossil). Combustion uses the non-fossil value for biogenic fuels.
 */
export const GWP_SET_NAMES = ['AR5', 'AR6'] as const
export type GwpSetName = (typeof GWP_SET_NAMES)[number]

export interface Gwp {
  set: string
  /** CH4 from fossil sources. */
  ch4: number
  /** CH4 from non-fossil (biogenic) sources. */
  ch4_non_fossil: number
  n2o: number
  source: string
}

export const GWP_SETS: Readonly<Record<GwpSetName, Gwp>> = {
  AR5: {
    set: 'AR5',
    ch4: 28,
    ch4_non_fossil: 28,
    n2o: 265,
    source: 'IPCC AR5 WG1 Ch. 8 Table 8.7 (GWP100 without climate-carbon feedback)',
  },
  AR6: {
    set: 'AR6',
    ch4: 29.8,
    ch4_non_fossil: 27.0,
    n2o: 273,
    source: 'IPCC AR6 WG1 Ch. 7 Table 7.15 (GWP100: CH4 fossil 29.8, CH4 non-fossil 27.0, N2O 273)',
  },
}

export function isGwpSetName(s: string): s is GwpSetName {
  return (GWP_SET_NAMES as readonly string[]).includes(s)
}

/** Options and usage of `kawasan factors`, apart from its code so `--help` stays light. */
import type { OptionSpec } from './cli-args.js'

export const FACTORS_OPTIONS = {
  set: { type: 'string' },
  date: { type: 'string' },
  gwp: { type: 'string' },
  'factor-file': { type: 'string' },
} as const satisfies OptionSpec

export const FACTORS_HELP = `kawasan factors list [--factor-file FILE]
    Every factor set: version, validity period, origin (bundled or the operator file), GWP set,
    and the set in force today.

kawasan factors show <REGION|COUNTRY|fuels|thermal> [--set VERSION | --date YYYY-MM-DD] [--gwp AR5|AR6] [--factor-file FILE]
    The factors of a region (ID-JAMALI) or of every region of a country (ID, CN, VN, JP, US, ES):
    location-based grid average, market-based residual mix or supplier factor, reference-only
    factors (CDM margins, never used), purchased steam/heat; each with value, unit, kg/kWh, gases,
    type, data year, source and confidence. \`fuels\` lists the fuel factors, \`thermal\` the
    steam/heat factors. Default set: the one
    in force today.

kawasan factors diff <SET_A> <SET_B> [--factor-file FILE]
    Every factor added, removed or changed from SET_A to SET_B, old and new value and change in %.

--factor-file FILE   An operator factor file (config rollup.factorFile) loaded with the bundled sets.`

/**
 * Coded errors of the emission maths (STYLE: one catalogue, callers switch on `code`). Kept here
 * rather than in `shared/errors.ts` so the maths module stays self-contained; the codes are
 * prefixed `EMISSIONS_` so they can be merged into the shared catalogue without clashes.
 */
export type EmissionsErrorCode =
  | 'EMISSIONS_FACTOR_SET_INVALID'
  | 'EMISSIONS_REGION_UNKNOWN'
  | 'EMISSIONS_FUEL_UNKNOWN'
  | 'EMISSIONS_SERIES_UNSORTED'
  | 'EMISSIONS_WINDOW_INVALID'
  | 'EMISSIONS_TIMEZONE_INVALID'
  | 'EMISSIONS_DATE_INVALID'

export class EmissionsError extends Error {
  constructor(
    readonly code: EmissionsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'EmissionsError'
  }
}

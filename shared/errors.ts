/**
 * Coded errors (docs/CONVENTIONS.md §5: one coded error catalogue per package). Callers switch on `code`, never on the message.
 */
export type ErrorCode =
  | 'CONFIG_FILE_UNREADABLE'
  | 'CONFIG_FILE_SYNTAX'
  | 'CONFIG_INVALID'
  | 'SITE_MODEL_INVALID'
  | 'INFLUX_UNAVAILABLE'
  | 'INFLUX_AUTH'
  | 'INFLUX_QUERY'
  | 'STOPPED'
  | 'DATA_DIR_IN_USE'
  | 'INFLUX_DATA_DIR_IN_USE'
  | 'INFLUX_NOT_CONFIGURED'
  | 'ADDRESS_IN_USE'
  | 'CLI_USAGE'
  | 'CERTIFICATE_INVALID'
  | 'CERTIFICATE_DUPLICATE'
  | 'CERTIFICATE_MARKET_MISMATCH'
  | 'CERTIFICATE_VINTAGE'
  | 'CERTIFICATE_NOT_FOUND'
  | 'CERTIFICATE_STATE'
  | 'CERTIFICATE_IMPORT_INVALID'
  | 'PRODUCTION_INVALID'
  | 'MANUAL_INVALID'
  | 'MANUAL_IMPORT_INVALID'
  | 'AUDIT_EXPORT_INVALID'
  | 'AUDIT_VERIFY_FAILED'
  | 'EMISSIONS_FACTOR_SET_INVALID'
  | 'EMISSIONS_REGION_UNKNOWN'
  | 'EMISSIONS_FUEL_UNKNOWN'
  | 'EMISSIONS_SERIES_UNSORTED'
  | 'EMISSIONS_WINDOW_INVALID'
  | 'EMISSIONS_TIMEZONE_INVALID'
  | 'EMISSIONS_DATE_INVALID'
  | 'EMISSIONS_FACTOR_TYPE_REFUSED'
  | 'EMISSIONS_FACTOR_SET_NOT_IN_FORCE'
  | 'EMISSIONS_FACTOR_FILE_INVALID'

export class KawasanError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'KawasanError'
  }
}

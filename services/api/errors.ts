/**
 * The API's coded errors (docs/CONVENTIONS.md §5: one coded error catalogue per package): a stable `code`, an HTTP status and a
 * message for people. Clients switch on `code`. Storage errors never reach a client verbatim: an
 * InfluxQL message could leak query structure, so they become STORAGE_UNAVAILABLE.
 */
export const API_ERRORS = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  PLANT_FORBIDDEN: 403,
  BAD_REQUEST: 400,
  UNKNOWN_PLANT: 400,
  NOT_FOUND: 404,
  RANGE_TOO_LARGE: 400,
  CERTIFICATE_DUPLICATE: 409,
  CERTIFICATE_STATE: 409,
  CERTIFICATE_MARKET_MISMATCH: 422,
  CERTIFICATE_VINTAGE: 422,
  RATE_LIMITED: 429,
  STORAGE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const
export type ApiErrorCode = keyof typeof API_ERRORS

export class ApiError extends Error {
  readonly statusCode: number
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown; statusCode?: number },
  ) {
    super(message, options)
    this.name = 'ApiError'
    this.statusCode = options?.statusCode ?? API_ERRORS[code]
  }
}

/** The body of every error response. */
export interface ApiErrorBody {
  statusCode: number
  code: ApiErrorCode
  error: string
  message: string
}

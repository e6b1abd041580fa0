/**
 * Errors of the emission maths: the shared catalogue's `EMISSIONS_` codes (shared/errors.ts), under
 * their own class name so callers can tell a maths error from an I/O one.
 */
import { type ErrorCode, KawasanError } from '../errors.js'

export type EmissionsErrorCode = Extract<ErrorCode, `EMISSIONS_${string}`>

export class EmissionsError extends KawasanError {
  constructor(code: EmissionsErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'EmissionsError'
  }
}

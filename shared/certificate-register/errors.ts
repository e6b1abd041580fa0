/**
 * Errors of the certificate register: the shared catalogue's `CERTIFICATE_` codes (shared/errors.ts)
 * under their own class; `problems` lists every reason when several rows or checks fail at once.
 */
import { type ErrorCode, KawasanError } from '../errors.js'

export type CertificateErrorCode = Extract<ErrorCode, `CERTIFICATE_${string}`>

export class CertificateError extends KawasanError {
  constructor(
    code: CertificateErrorCode,
    message: string,
    readonly problems: readonly string[] = [message],
  ) {
    super(code, message)
    this.name = 'CertificateError'
  }
}

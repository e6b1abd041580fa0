/**
 * Current state from the append-only event log, pure. Events apply in time order; one that does
 * not fit the state it meets (a second `created` for an id: two processes racing on one id; an
 * event for an unknown or cancelled certificate) is skipped, so every reader derives the same
 * state from the same log whoever wrote first.
 */
import type { CertificateEvent, RegisteredCertificate } from './schema.js'

export interface RegisterState {
  certificates: Map<string, RegisteredCertificate>
  /** Each certificate's applied events, oldest first (the audit trail). */
  history: Map<string, CertificateEvent[]>
}

export function foldEvents(events: readonly CertificateEvent[]): RegisterState {
  const certificates = new Map<string, RegisteredCertificate>()
  const history = new Map<string, CertificateEvent[]>()
  const sorted = [...events].sort((a, b) => a.time - b.time || a.certificate.localeCompare(b.certificate))
  for (const e of sorted) {
    const current = certificates.get(e.certificate)
    let next: RegisteredCertificate | undefined
    if (e.event === 'created') {
      if (!current) next = e.values as RegisteredCertificate
    } else if (current && current.status !== 'cancelled') {
      if (e.event === 'allocated' && current.status === 'active') next = { ...current, ...e.values }
      if (e.event === 'retired' && current.status === 'active' && current.plant !== undefined)
        next = { ...current, ...e.values, status: 'retired' }
      if (e.event === 'cancelled') next = { ...current, status: 'cancelled' }
    }
    if (!next) continue
    certificates.set(e.certificate, next)
    history.set(e.certificate, [...(history.get(e.certificate) ?? []), e])
  }
  return { certificates, history }
}

/** The fields of `from` that `values` sets: the "previous values" of an event. */
export function previousOf(
  from: RegisteredCertificate,
  values: Partial<RegisteredCertificate>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(values) as (keyof RegisteredCertificate)[]) out[k] = from[k] ?? null
  return out
}

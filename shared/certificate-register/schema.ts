/**
 * The certificate register's records (docs/CARBON-ACCOUNTING.md "Certificate register"): what a
 * create, allocate, retire or cancel carries, validated with zod (strict: unknown keys refused),
 * and the events the register stores. Shared by the API, the CLI import and the rollup.
 */
import { z } from 'zod'
import { CERTIFICATE_TYPES } from '../site-model.js'

/** Printable ids without spaces or quotes: they appear in URLs, logs and InfluxDB tags. */
export const certificateIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits and . _ : - (no spaces or slashes)')

const text = (max: number) => z.string().trim().min(1).max(max)

export const retirementSchema = z.strictObject({
  date: z.iso.date().describe('Day the issuing registry retired (cancelled) the certificate'),
  beneficiary: text(200).describe('Who the certificate was retired for (the reporting company)'),
})
export type Retirement = z.infer<typeof retirementSchema>

/** A new certificate: a production period (vintage) or a production hour, and what it covers. */
export const certificateInputSchema = z
  .strictObject({
    id: certificateIdSchema,
    type: z.enum(CERTIFICATE_TYPES),
    mwh: z.number().positive().max(1e7),
    vintage_from: z.iso.date().optional().describe('First day of production (YYYY-MM-DD)'),
    vintage_to: z.iso.date().optional().describe('Last day of production (YYYY-MM-DD, inclusive)'),
    production_hour: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('Start of the production hour of an hour-stamped instrument (GC, hourly PPA volume)'),
    from: z.iso.date().optional().describe('First local day of consumption it covers (default vintage_from)'),
    to: z.iso.date().optional().describe('Last local day of consumption it covers (default vintage_to)'),
    technology: text(60),
    registry: text(120).describe('Issuing registry or tracking system (I-TRACK, AIB hub, M-RETS, ...)'),
    market: text(20).describe('Market boundary: a country code (ID, ES) or a market code (EU-AIB, US-CA)'),
    plant: z.string().min(1).max(64).optional().describe('Plant the certificate is allocated to'),
    retirement: retirementSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const hourly = c.production_hour !== undefined
    if (hourly && (c.vintage_from !== undefined || c.vintage_to !== undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['production_hour'],
        message: 'give a production hour or a production period (vintage_from/vintage_to), not both',
      })
    if (!hourly && (c.vintage_from === undefined || c.vintage_to === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['vintage_from'],
        message: 'a production period (vintage_from and vintage_to) or a production_hour is required',
      })
    if (c.vintage_from && c.vintage_to && c.vintage_to < c.vintage_from)
      ctx.addIssue({ code: 'custom', path: ['vintage_to'], message: 'vintage_to is before vintage_from' })
    if ((c.from === undefined) !== (c.to === undefined))
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'give both from and to, or neither' })
    if (c.from && c.to && c.to < c.from)
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'to is before from' })
    if (c.retirement && c.plant === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['retirement'],
        message: 'a retired certificate must be allocated to a plant (give plant)',
      })
  })
export type CertificateInput = z.infer<typeof certificateInputSchema>

export const CERTIFICATE_STATUSES = ['active', 'retired', 'cancelled'] as const
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number]

/** A certificate's current state, derived from its events. */
export interface RegisteredCertificate {
  id: string
  type: (typeof CERTIFICATE_TYPES)[number]
  mwh: number
  vintage_from?: string | undefined
  vintage_to?: string | undefined
  production_hour?: string | undefined
  /** Local days of consumption covered (always set: defaulted from the vintage or the hour). */
  from: string
  to: string
  technology: string
  registry: string
  market: string
  plant?: string | undefined
  retirement?: Retirement | undefined
  status: CertificateStatus
}

export const CERTIFICATE_EVENT_KINDS = ['created', 'allocated', 'retired', 'cancelled'] as const
export type CertificateEventKind = (typeof CERTIFICATE_EVENT_KINDS)[number]

/** One entry of the append-only log: who did what, when, why, and the values before. */
export interface CertificateEvent {
  /** Epoch ms. */
  time: number
  certificate: string
  event: CertificateEventKind
  /** API key id, `cli` or `file:<name>`. */
  actor: string
  reason: string
  /** The fields this event set. */
  values: Partial<RegisteredCertificate>
  /** Those fields' values before it (empty on `created`). */
  previous: Record<string, unknown>
}

export const allocateSchema = z.strictObject({
  plant: z.string().min(1).max(64),
  reason: text(500).optional(),
})
export const retireSchema = retirementSchema.extend({ reason: text(500).optional() })
export const cancelSchema = z.strictObject({ reason: text(500) })

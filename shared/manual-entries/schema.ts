/**
 * Manual entries (docs/AUDIT.md): data a meter did not give, entered by a person and kept beside
 * the raw readings, never over them. A correction states a device's energy for a window in place
 * of what its readings give (a meter that read wrong or not at all); a meter replacement records a
 * new counter start (the old meter's final value and the new one's start value at a time).
 */
import { z } from 'zod'

export const manualEntryIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64')

const instant = z.iso.datetime({ offset: true }).describe('ISO 8601 with offset')

export const correctionInputSchema = z
  .strictObject({
    id: manualEntryIdSchema,
    kind: z.literal('correction'),
    plant: z.string().min(1),
    device: z.string().min(1),
    from: instant.describe('Start of the corrected window (inclusive)'),
    to: instant.describe('End of the corrected window (exclusive)'),
    energy_kwh: z.number().nonnegative().describe("The device's energy over the whole window, kWh"),
    reason: z.string().min(1).describe('Why the readings are replaced (kept in the audit trail)'),
  })
  .refine((c) => Date.parse(c.to) > Date.parse(c.from), {
    message: '`to` must be after `from`',
    path: ['to'],
  })
export type CorrectionInput = z.infer<typeof correctionInputSchema>

export const meterReplacementInputSchema = z.strictObject({
  id: manualEntryIdSchema,
  kind: z.literal('meter_replacement'),
  plant: z.string().min(1),
  device: z.string().min(1),
  at: instant.describe('When the new meter started counting'),
  old_final_kwh: z.number().nonnegative().describe("The old meter's last register value, kWh"),
  new_start_kwh: z.number().nonnegative().describe("The new meter's register value at `at`, kWh"),
  reason: z.string().min(1),
})

export const manualInputSchema = z.discriminatedUnion('kind', [
  correctionInputSchema,
  meterReplacementInputSchema,
])

/** A meter replacement as stored: `start` = `end` = the swap time, epoch ms. */
export interface MeterReplacement {
  id: string
  kind: 'meter_replacement'
  plant: string
  device: string
  start: number
  end: number
  old_final_kwh: number
  new_start_kwh: number
}

/** A correction as stored: times in epoch ms. */
export interface Correction {
  id: string
  kind: 'correction'
  plant: string
  device: string
  start: number
  end: number
  energy_kwh: number
}

export type ManualEntry = Correction | MeterReplacement

export const MANUAL_EVENT_KINDS = ['created', 'amended'] as const
export type ManualEventKind = (typeof MANUAL_EVENT_KINDS)[number]

/** One line of the audit trail: who, when, why, the values set and the values they replaced. */
export interface ManualEvent {
  time: number
  entry: string
  event: ManualEventKind
  actor: string
  reason: string
  values: ManualEntry
  /** The entry's values before this event; null on `created` (the raw readings applied). */
  previous: ManualEntry | null
}

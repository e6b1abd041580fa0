/**
 * Manual entries (docs/AUDIT.md): data a meter did not give, entered by a person and kept beside
 * the raw readings, never over them. A correction states a device's energy for a window in place
 * of what its readings give (a meter that read wrong or not at all); a meter replacement records a
 * new counter start (the old meter's final value and the new one's start value at a time). A fuel
 * delivery records fuel received for a consumption period (with optional stock readings); a
 * utility bill records a supplier's billed energy for a billing period.
 */
import { z } from 'zod'
import { FUELS } from '../site-model.js'

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

/** Units a delivery note may state: volume, mass, gas volume at the factor's reference, or energy at NCV. */
export const FUEL_UNITS = ['L', 'kg', 'm3', 'kWh'] as const
export type FuelUnit = (typeof FUEL_UNITS)[number]

const period = <T extends { from: string; to: string }>(c: T) => Date.parse(c.to) > Date.parse(c.from)

export const fuelDeliveryInputSchema = z
  .strictObject({
    id: manualEntryIdSchema,
    kind: z.literal('fuel_delivery'),
    plant: z.string().min(1),
    device: z
      .string()
      .min(1)
      .optional()
      .describe("The genset/boiler it feeds; omitted: the plant's only device burning `fuel`"),
    fuel: z.enum(FUELS).describe("A fuel of the factor registry (the device's fuel)"),
    quantity: z.number().positive().describe('Quantity received, in `unit`'),
    unit: z.enum(FUEL_UNITS).describe("L, kg, m3 (at the factor's reference conditions) or kWh at NCV"),
    delivered_at: instant.describe('When the fuel was received (within the consumption period)'),
    from: instant.describe('Start of the consumption (stock-check) period it is accounted in'),
    to: instant.describe('End of the consumption period (exclusive)'),
    opening_stock: z.number().nonnegative().optional().describe('Stock at `from`, in `unit`'),
    closing_stock: z.number().nonnegative().optional().describe('Stock at `to`, in `unit`'),
    reason: z.string().min(1),
  })
  .refine(period, { message: '`to` must be after `from`', path: ['to'] })
  .refine(
    (c) => Date.parse(c.delivered_at) >= Date.parse(c.from) && Date.parse(c.delivered_at) < Date.parse(c.to),
    { message: '`delivered_at` must lie in the consumption period [from, to)', path: ['delivered_at'] },
  )
export type FuelDeliveryInput = z.infer<typeof fuelDeliveryInputSchema>

export const utilityBillInputSchema = z
  .strictObject({
    id: manualEntryIdSchema,
    kind: z.literal('utility_bill'),
    plant: z.string().min(1),
    device: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The supply meter billed (grid_import or heat_import); omitted: the plant's only grid_import",
      ),
    from: instant.describe('Start of the billing period (inclusive)'),
    to: instant.describe('End of the billing period (exclusive)'),
    energy_kwh: z.number().nonnegative().describe('Energy billed over the period, kWh'),
    supplier: z.string().min(1).optional(),
    contract: z.string().min(1).optional().describe('Tariff or supply contract (market-based evidence)'),
    reason: z.string().min(1),
  })
  .refine(period, { message: '`to` must be after `from`', path: ['to'] })
export type UtilityBillInput = z.infer<typeof utilityBillInputSchema>

export const manualInputSchema = z.discriminatedUnion('kind', [
  correctionInputSchema,
  meterReplacementInputSchema,
  fuelDeliveryInputSchema,
  utilityBillInputSchema,
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

/**
 * A fuel delivery as stored: `start`/`end` = the consumption period, `device` resolved when the
 * input left it out (the plant's only device burning the fuel at import time).
 */
export interface FuelDelivery {
  id: string
  kind: 'fuel_delivery'
  plant: string
  device: string
  fuel: (typeof FUELS)[number]
  quantity: number
  unit: FuelUnit
  delivered_at: number
  start: number
  end: number
  opening_stock?: number
  closing_stock?: number
}

/** A utility bill as stored: `start`/`end` = the billing period, `device` resolved. */
export interface UtilityBill {
  id: string
  kind: 'utility_bill'
  plant: string
  device: string
  start: number
  end: number
  energy_kwh: number
  supplier?: string
  contract?: string
}

export type ManualEntry = Correction | MeterReplacement | FuelDelivery | UtilityBill

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

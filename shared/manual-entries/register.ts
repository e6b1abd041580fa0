/**
 * Manual entries and their audit trail (docs/AUDIT.md): each change is an event appended to the
 * shared log (store.ts) with who, when, why and the values it replaced; the current entries are
 * derived from the log on every call, so the API, the CLI and the rollup agree whichever process
 * wrote. Saving an id that exists amends it (its old values become the event's `previous`); raw
 * readings are never touched. Changes made in this process run one at a time.
 */
import { DEFAULT_FUEL_FOR_ROLE } from '../emissions/combustion.js'
import { isFuelFired } from '../emissions/energy.js'
import { bundledFactorSet } from '../emissions/factors/factor-sets.js'
import { KawasanError } from '../errors.js'
import type { InfluxClient } from '../influx/influx-client.js'
import type { Device, SiteModel } from '../site-model.js'
import { fuelAccounts, toMeterUnit } from './fuel-accounts.js'
import {
  type FuelDelivery,
  type ManualEntry,
  type ManualEvent,
  manualInputSchema,
  type UtilityBill,
} from './schema.js'
import { ManualEventStore } from './store.js'

export interface ManualEntriesOptions {
  influx: InfluxClient
  site: SiteModel
  now?: () => number
}

/** A row of an import file: its line number and its fields. */
export interface ManualImportRow {
  line: number
  value: unknown
}

/**
 * Who may write which plant, for a writer limited to some plants (an API tenant editor key):
 * checked on the raw `plant` field of every row, whatever its kind, and on the plant of the entry
 * a row would amend, before any other check, so a refused row learns nothing of another plant.
 */
export interface ManualWriteGuard {
  mayWrite(plant: unknown): boolean
  /** The error thrown, naming every row it may not write. */
  refuse(foreign: ForeignRow[]): Error
}

/** A refused row: `where` is `line N` or `entry`; `amends` the id of another plant's entry it would change. */
export interface ForeignRow {
  where: string
  plant: unknown
  amends?: string | undefined
}

export interface ManualEntryWithHistory {
  entry: ManualEntry
  history: ManualEvent[]
}

/** The current entries from the log: the last event of each id wins. Pure. */
export function foldManualEvents(events: readonly ManualEvent[]): Map<string, ManualEntryWithHistory> {
  const out = new Map<string, ManualEntryWithHistory>()
  for (const e of [...events].sort((a, b) => a.time - b.time || a.entry.localeCompare(b.entry))) {
    const cur = out.get(e.entry)
    out.set(e.entry, { entry: e.values, history: [...(cur?.history ?? []), e] })
  }
  return out
}

export class ManualEntries {
  readonly store: ManualEventStore
  private readonly now: () => number
  private chain: Promise<unknown> = Promise.resolve()

  constructor(private readonly options: ManualEntriesOptions) {
    this.store = new ManualEventStore(options.influx, options.site.cluster.id)
    this.now = options.now ?? Date.now
  }

  async list(): Promise<ManualEntryWithHistory[]> {
    return [...foldManualEvents(await this.store.read()).values()].sort((a, b) =>
      a.entry.id.localeCompare(b.entry.id),
    )
  }

  /** Creates or amends one entry; MANUAL_INVALID with the reasons when its fields are wrong. */
  async save(input: unknown, actor: string, guard?: ManualWriteGuard): Promise<ManualEvent> {
    const [event] = await this.importRows([{ line: 1, value: input }], actor, false, guard)
    return event!
  }

  /**
   * Saves every row or none: any problem refuses the whole file with every row's reasons
   * (MANUAL_IMPORT_INVALID); a single save answers MANUAL_INVALID.
   */
  importRows(
    rows: readonly ManualImportRow[],
    actor: string,
    file = true,
    guard?: ManualWriteGuard,
  ): Promise<ManualEvent[]> {
    return this.serial(async () => {
      const events = await this.store.read()
      const current = foldManualEvents(events)
      if (guard) {
        const foreign = foreignRows(rows, current, guard, file)
        if (foreign.length) throw guard.refuse(foreign)
      }
      const problems: string[] = []
      const out: ManualEvent[] = []
      let time = Math.max(this.now(), ...events.map((e) => e.time + 1))
      const seen = new Set<string>()
      const lineOf = new Map<string, string>()
      for (const row of rows) {
        const where = file ? `line ${row.line}: ` : ''
        const parsed = manualInputSchema.safeParse(row.value)
        if (!parsed.success) {
          for (const i of parsed.error.issues)
            problems.push(`${where}${i.path.join('.') || 'entry'}: ${i.message}`)
          continue
        }
        const c = parsed.data
        if (seen.has(c.id)) problems.push(`${where}entry ${c.id} appears twice in the file`)
        seen.add(c.id)
        const resolved = this.resolveDevice(c)
        if ('problem' in resolved) {
          problems.push(`${where}${resolved.problem}`)
          continue
        }
        // What every kind of entry carries; each kind adds its period and values.
        const head = { id: c.id, plant: c.plant, device: resolved.device }
        let values: ManualEntry
        if (c.kind === 'correction')
          values = {
            ...head,
            kind: c.kind,
            start: Date.parse(c.from),
            end: Date.parse(c.to),
            energy_kwh: c.energy_kwh,
          }
        else if (c.kind === 'meter_replacement')
          values = {
            ...head,
            kind: c.kind,
            start: Date.parse(c.at),
            end: Date.parse(c.at),
            old_final_kwh: c.old_final_kwh,
            new_start_kwh: c.new_start_kwh,
          }
        else if (c.kind === 'fuel_delivery') {
          const conv = toMeterUnit(c.fuel, c.quantity, c.unit, bundledFactorSet())
          if ('problem' in conv) problems.push(`${where}${conv.problem}`)
          const d: FuelDelivery = {
            ...head,
            kind: c.kind,
            fuel: c.fuel,
            quantity: c.quantity,
            unit: c.unit,
            delivered_at: Date.parse(c.delivered_at),
            start: Date.parse(c.from),
            end: Date.parse(c.to),
          }
          if (c.opening_stock !== undefined) d.opening_stock = c.opening_stock
          if (c.closing_stock !== undefined) d.closing_stock = c.closing_stock
          values = d
        } else {
          const b: UtilityBill = {
            ...head,
            kind: c.kind,
            start: Date.parse(c.from),
            end: Date.parse(c.to),
            energy_kwh: c.energy_kwh,
          }
          if (c.supplier) b.supplier = c.supplier
          if (c.contract) b.contract = c.contract
          values = b
        }
        lineOf.set(c.id, where)
        const previous = current.get(c.id)?.entry ?? null
        out.push({
          time: time++,
          entry: c.id,
          event: previous ? 'amended' : 'created',
          actor,
          reason: c.reason,
          values,
          previous,
        })
      }
      if (rows.length === 0) problems.push('the file has no entries')
      // Rules across entries, on the entries as they would stand after this save.
      const after = new Map([...current].map(([id, m]) => [id, m.entry]))
      for (const e of out) after.set(e.entry, e.values)
      const touched = new Set(out.map((e) => e.entry))
      const at = (id: string) => lineOf.get(id) ?? `entry ${id}: `
      const all = [...after.values()]
      for (const p of fuelAccounts(all.filter((e): e is FuelDelivery => e.kind === 'fuel_delivery')).problems)
        if (touched.has(p.id)) problems.push(`${at(p.id)}${p.problem}`)
      for (const p of billOverlaps(all.filter((e): e is UtilityBill => e.kind === 'utility_bill')))
        if (touched.has(p.id)) problems.push(`${at(p.id)}${p.problem}`)
      if (problems.length) {
        const code = file ? 'MANUAL_IMPORT_INVALID' : 'MANUAL_INVALID'
        const tail = file ? '; nothing was imported' : ''
        throw new KawasanError(code, `${problems.length} problem(s)${tail}:\n  ${problems.join('\n  ')}`)
      }
      await this.store.append(out)
      return out
    })
  }

  /**
   * The device an entry applies to: the one it names, or for a delivery or bill without one the
   * plant's only device that burns the fuel (only grid_import meter), which is then stored.
   */
  private resolveDevice(c: {
    kind: ManualEntry['kind']
    plant: string
    device?: string | undefined
    fuel?: string
  }): { device: string } | { problem: string } {
    const p = this.options.site.plants.find((x) => x.id === c.plant)
    if (!p) return { problem: `plant "${c.plant}" is not in the site model` }
    const fits = (d: Device): string | undefined => {
      if (c.kind === 'fuel_delivery') {
        if (!burns(d)) return `device "${d.id}" burns no fuel (role ${d.role})`
        if (burns(d) !== c.fuel) return `device "${d.id}" burns ${burns(d)}, not ${c.fuel}`
      }
      if (c.kind === 'utility_bill' && d.role !== 'grid_import' && d.role !== 'heat_import')
        return `device "${d.id}" is no supply meter (grid_import or heat_import), role ${d.role}`
      return undefined
    }
    if (c.device !== undefined) {
      const d = p.devices.find((x) => x.id === c.device)
      if (!d) return { problem: `device "${c.device}" is not a device of ${c.plant}` }
      const bad = fits(d)
      return bad ? { problem: bad } : { device: d.id }
    }
    const candidates = p.devices.filter((d) =>
      c.kind === 'utility_bill' ? d.role === 'grid_import' : !fits(d),
    )
    const what = c.kind === 'utility_bill' ? 'grid_import meter' : `device burning ${c.fuel}`
    if (candidates.length !== 1)
      return {
        problem: `${c.plant} has ${candidates.length} ${what}s (${candidates.map((d) => d.id).join(', ') || 'none'}): name the device`,
      }
    return { device: candidates[0]!.id }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => undefined)
    return run
  }
}

/** Rows naming a plant the guard refuses, or amending an entry of such a plant. */
function foreignRows(
  rows: readonly ManualImportRow[],
  current: ReadonlyMap<string, ManualEntryWithHistory>,
  guard: ManualWriteGuard,
  file: boolean,
): ForeignRow[] {
  const out: ForeignRow[] = []
  for (const row of rows) {
    const where = file ? `line ${row.line}` : 'entry'
    const fields =
      typeof row.value === 'object' && row.value !== null ? (row.value as Record<string, unknown>) : {}
    if (!guard.mayWrite(fields.plant)) out.push({ where, plant: fields.plant })
    const amended = typeof fields.id === 'string' ? current.get(fields.id)?.entry : undefined
    // Its id is taken by another tenant's entry: saying so tells only that the id exists.
    if (amended && !guard.mayWrite(amended.plant))
      out.push({ where, plant: fields.plant, amends: amended.id })
  }
  return out
}

/** The fuel a device burns, when deliveries can feed it (one fuel; a blend boiler meters its fuels). */
export function burns(d: Device): string | undefined {
  if (d.role === 'boiler') return d.blend && d.blend.length > 1 ? undefined : (d.fuel ?? d.blend?.[0]?.fuel)
  if (!isFuelFired(d.role)) return undefined
  return d.fuel ?? DEFAULT_FUEL_FOR_ROLE[d.role]
}

/** Bills of one device whose billing periods overlap (each kWh would be billed twice). */
function billOverlaps(bills: readonly UtilityBill[]): { id: string; problem: string }[] {
  const out: { id: string; problem: string }[] = []
  const sorted = [...bills].sort((a, b) => a.start - b.start || a.id.localeCompare(b.id))
  sorted.forEach((b, i) => {
    for (const a of sorted.slice(0, i))
      if (a.plant === b.plant && a.device === b.device && a.end > b.start) {
        const iso = (ms: number) => new Date(ms).toISOString()
        out.push({
          id: b.id,
          problem: `bill ${b.id} (${iso(b.start)}..${iso(b.end)}) overlaps bill ${a.id} of ${b.plant}/${b.device}`,
        })
        out.push({ id: a.id, problem: `bill ${a.id} overlaps bill ${b.id} of ${a.plant}/${a.device}` })
      }
  })
  return out
}

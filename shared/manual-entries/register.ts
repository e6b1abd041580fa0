/**
 * Manual entries and their audit trail (docs/AUDIT.md): each change is an event appended to the
 * shared log (store.ts) with who, when, why and the values it replaced; the current entries are
 * derived from the log on every call, so the API, the CLI and the rollup agree whichever process
 * wrote. Saving an id that exists amends it (its old values become the event's `previous`); raw
 * readings are never touched. Changes made in this process run one at a time.
 */
import { KawasanError } from '../errors.js'
import type { InfluxClient } from '../influx/influx-client.js'
import type { SiteModel } from '../site-model.js'
import { type ManualEntry, type ManualEvent, manualInputSchema } from './schema.js'
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
      for (const row of rows) {
        const where = file ? `line ${row.line}: ` : ''
        const parsed = manualInputSchema.safeParse(row.value)
        if (!parsed.success) {
          for (const i of parsed.error.issues)
            problems.push(`${where}${i.path.join('.') || 'entry'}: ${i.message}`)
          continue
        }
        const c = parsed.data
        const problem = this.deviceProblem(c.plant, c.device)
        if (problem) problems.push(`${where}${problem}`)
        if (seen.has(c.id)) problems.push(`${where}entry ${c.id} appears twice in the file`)
        seen.add(c.id)
        const values: ManualEntry =
          c.kind === 'correction'
            ? {
                id: c.id,
                kind: c.kind,
                plant: c.plant,
                device: c.device,
                start: Date.parse(c.from),
                end: Date.parse(c.to),
                energy_kwh: c.energy_kwh,
              }
            : {
                id: c.id,
                kind: c.kind,
                plant: c.plant,
                device: c.device,
                start: Date.parse(c.at),
                end: Date.parse(c.at),
                old_final_kwh: c.old_final_kwh,
                new_start_kwh: c.new_start_kwh,
              }
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
      if (problems.length) {
        const code = file ? 'MANUAL_IMPORT_INVALID' : 'MANUAL_INVALID'
        const tail = file ? '; nothing was imported' : ''
        throw new KawasanError(code, `${problems.length} problem(s)${tail}:\n  ${problems.join('\n  ')}`)
      }
      await this.store.append(out)
      return out
    })
  }

  private deviceProblem(plant: string, device: string): string | undefined {
    const p = this.options.site.plants.find((x) => x.id === plant)
    if (!p) return `plant "${plant}" is not in the site model`
    if (!p.devices.some((d) => d.id === device)) return `device "${device}" is not a device of ${plant}`
    return undefined
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

/**
 * The certificate register (docs/CARBON-ACCOUNTING.md "Certificate register"): create, allocate,
 * retire and cancel certificates, each an event appended to the shared log (store.ts) with who,
 * when, why and the values before; the current state is derived from the log on every call, so
 * the API, the CLI and the rollup see the same register whichever process wrote it. Checks before
 * any write: unique ids across the estate (the register and the site model), a known plant, the
 * Scope 2 Quality Criteria (quality.ts). Changes made in this process run one at a time.
 */
import { localDateOf } from '../emissions/local-days.js'
import type { InfluxClient } from '../influx/influx-client.js'
import { SHARED_PLANT_ID, type SiteModel } from '../site-model.js'
import { CertificateError } from './errors.js'
import { foldEvents, previousOf, type RegisterState } from './events.js'
import { marketProblem, vintageProblem } from './quality.js'
import {
  type CertificateEvent,
  type CertificateEventKind,
  type CertificateInput,
  certificateInputSchema,
  type RegisteredCertificate,
  type Retirement,
} from './schema.js'
import { CertificateEventStore } from './store.js'

export interface CertificateRegisterOptions {
  influx: InfluxClient
  site: SiteModel
  now?: () => number
}

/** A row of an import file: its line number and its fields. */
export interface ImportRow {
  line: number
  value: unknown
}

type Checked = { ok: true; cert: RegisteredCertificate } | { ok: false; error: CertificateError }

export class CertificateRegister {
  readonly store: CertificateEventStore
  private readonly now: () => number
  private chain: Promise<unknown> = Promise.resolve()

  constructor(private readonly options: CertificateRegisterOptions) {
    this.store = new CertificateEventStore(options.influx, options.site.cluster.id)
    this.now = options.now ?? Date.now
  }

  async state(): Promise<RegisterState> {
    return foldEvents(await this.store.read())
  }

  async list(): Promise<RegisteredCertificate[]> {
    return [...(await this.state()).certificates.values()].sort((a, b) => a.id.localeCompare(b.id))
  }

  /** A certificate and its audit trail; CERTIFICATE_NOT_FOUND when the id is not registered. */
  async show(id: string): Promise<{ certificate: RegisteredCertificate; history: CertificateEvent[] }> {
    const s = await this.state()
    const certificate = s.certificates.get(id)
    if (!certificate) throw notFound(id)
    return { certificate, history: s.history.get(id) ?? [] }
  }

  create(input: unknown, actor: string, reason = ''): Promise<RegisteredCertificate> {
    return this.serial(async () => {
      const state = await this.state()
      const checked = this.check(input, state, new Set())
      if (!checked.ok) throw checked.error
      await this.store.append(this.createEvents(checked.cert, state, actor, reason))
      return checked.cert
    })
  }

  /**
   * Creates every row of a file or none: each row is checked against the register and the rows
   * before it; any problem refuses the whole file with every row's reasons (CERTIFICATE_IMPORT_INVALID).
   */
  importRows(rows: readonly ImportRow[], actor: string, reason = ''): Promise<RegisteredCertificate[]> {
    return this.serial(async () => {
      const state = await this.state()
      const seen = new Set<string>()
      const problems: string[] = []
      const certs: RegisteredCertificate[] = []
      for (const row of rows) {
        const checked = this.check(row.value, state, seen)
        if (!checked.ok) problems.push(...checked.error.problems.map((p) => `line ${row.line}: ${p}`))
        else {
          seen.add(checked.cert.id)
          certs.push(checked.cert)
        }
      }
      if (rows.length === 0) problems.push('the file has no certificates')
      if (problems.length)
        throw new CertificateError(
          'CERTIFICATE_IMPORT_INVALID',
          `${problems.length} problem(s); nothing was imported:\n  ${problems.join('\n  ')}`,
          problems,
        )
      await this.store.append(certs.flatMap((c) => this.createEvents(c, state, actor, reason)))
      return certs
    })
  }

  allocate(id: string, plant: string, actor: string, reason = ''): Promise<RegisteredCertificate> {
    return this.change(id, 'allocated', actor, reason, (c) => {
      if (c.status !== 'active') throw stateError(c, 'allocate')
      const problem =
        this.plantProblem(plant) ?? marketProblem(c.market, this.options.site.cluster.grid_region)
      if (problem) throw new CertificateError(problem.code, `certificate ${c.id}: ${problem.message}`)
      return { plant }
    })
  }

  retire(id: string, retirement: Retirement, actor: string, reason = ''): Promise<RegisteredCertificate> {
    return this.change(id, 'retired', actor, reason, (c) => {
      if (c.status !== 'active') throw stateError(c, 'retire')
      if (c.plant === undefined)
        throw new CertificateError(
          'CERTIFICATE_STATE',
          `certificate ${c.id} is allocated to no plant: allocate it before retiring it for that plant`,
        )
      return { retirement, status: 'retired' }
    })
  }

  cancel(id: string, actor: string, reason: string): Promise<RegisteredCertificate> {
    return this.change(id, 'cancelled', actor, reason, (c) => {
      if (c.status === 'cancelled') throw stateError(c, 'cancel')
      return { status: 'cancelled' }
    })
  }

  private change(
    id: string,
    event: CertificateEventKind,
    actor: string,
    reason: string,
    values: (c: RegisteredCertificate) => Partial<RegisteredCertificate>,
  ): Promise<RegisteredCertificate> {
    return this.serial(async () => {
      const state = await this.state()
      const c = state.certificates.get(id)
      if (!c) throw notFound(id)
      const v = values(c)
      const time = this.timeFor(id, state)
      await this.store.append([
        { time, certificate: id, event, actor, reason, values: v, previous: previousOf(c, v) },
      ])
      return { ...c, ...v }
    })
  }

  /** Validates one certificate against the register, the site model and `alsoTaken` ids. */
  private check(input: unknown, state: RegisterState, alsoTaken: ReadonlySet<string>): Checked {
    const parsed = certificateInputSchema.safeParse(input)
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`)
      return fail('CERTIFICATE_INVALID', problems)
    }
    const c = parsed.data
    const site = this.options.site
    const tz = site.cluster.timezone
    const inSite = site.plants.find((p) => p.certificates.some((x) => x.id === c.id))
    if (state.certificates.has(c.id) || alsoTaken.has(c.id) || inSite) {
      const where = inSite ? `the site model (plant ${inSite.id})` : 'the register'
      return fail('CERTIFICATE_DUPLICATE', [
        `certificate id "${c.id}" is already in ${where}; a certificate is claimed once in the estate`,
      ])
    }
    const hourDay = c.production_hour ? localDateOf(Date.parse(c.production_hour), tz) : undefined
    const cert = registered(c, hourDay)
    const plant = c.plant === undefined ? undefined : this.plantProblem(c.plant)
    const problems = [
      plant,
      vintageProblem(cert, tz),
      c.plant === undefined ? undefined : marketProblem(c.market, site.cluster.grid_region),
    ].filter((p) => p !== undefined)
    if (problems.length)
      return {
        ok: false,
        error: new CertificateError(
          problems[0]!.code,
          `certificate ${c.id}: ${problems.map((p) => p.message).join('; ')}`,
          problems.map((p) => `${p.message} [${p.code}]`),
        ),
      }
    return { ok: true, cert }
  }

  private plantProblem(plant: string): { code: 'CERTIFICATE_INVALID'; message: string } | undefined {
    if (plant !== SHARED_PLANT_ID && this.options.site.plants.some((p) => p.id === plant)) return undefined
    return {
      code: 'CERTIFICATE_INVALID',
      message: `plant "${plant}" is not a plant of the site model (${this.options.site.plants.map((p) => p.id).join(', ')})`,
    }
  }

  /** created, then allocated and retired when the input carries them: one event per step. */
  private createEvents(
    c: RegisteredCertificate,
    state: RegisterState,
    actor: string,
    reason: string,
  ): CertificateEvent[] {
    const { plant, retirement, ...rest } = c
    const time = this.timeFor(c.id, state)
    const out: CertificateEvent[] = [
      {
        time,
        certificate: c.id,
        event: 'created',
        actor,
        reason,
        values: { ...rest, status: 'active' },
        previous: {},
      },
    ]
    if (plant !== undefined)
      out.push({
        time: time + 1,
        certificate: c.id,
        event: 'allocated',
        actor,
        reason,
        values: { plant },
        previous: { plant: null },
      })
    if (retirement !== undefined)
      out.push({
        time: time + 2,
        certificate: c.id,
        event: 'retired',
        actor,
        reason,
        values: { retirement, status: 'retired' },
        previous: { retirement: null, status: 'active' },
      })
    return out
  }

  /** Now, or 1 ms after the certificate's last event (so its events keep their order). */
  private timeFor(id: string, state: RegisterState): number {
    const last = state.history.get(id)?.at(-1)?.time ?? Number.NEGATIVE_INFINITY
    return Math.max(Math.floor(this.now()), last + 1)
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => undefined)
    return run
  }
}

function registered(c: CertificateInput, hourDay: string | undefined): RegisteredCertificate {
  const from = c.from ?? c.vintage_from ?? hourDay!
  const to = c.to ?? c.vintage_to ?? hourDay!
  const out: RegisteredCertificate = {
    id: c.id,
    type: c.type,
    mwh: c.mwh,
    from,
    to,
    technology: c.technology,
    registry: c.registry,
    market: c.market,
    status: c.retirement ? 'retired' : 'active',
  }
  if (c.vintage_from !== undefined) out.vintage_from = c.vintage_from
  if (c.vintage_to !== undefined) out.vintage_to = c.vintage_to
  if (c.production_hour !== undefined) out.production_hour = c.production_hour
  if (c.plant !== undefined) out.plant = c.plant
  if (c.retirement !== undefined) out.retirement = c.retirement
  return out
}

function fail(code: 'CERTIFICATE_INVALID' | 'CERTIFICATE_DUPLICATE', problems: string[]): Checked {
  return {
    ok: false,
    error: new CertificateError(
      code,
      problems.join('; '),
      problems.map((p) => `${p} [${code}]`),
    ),
  }
}

function notFound(id: string): CertificateError {
  return new CertificateError('CERTIFICATE_NOT_FOUND', `no certificate "${id}" in the register`)
}

function stateError(c: RegisteredCertificate, what: string): CertificateError {
  return new CertificateError(
    'CERTIFICATE_STATE',
    `certificate ${c.id} is ${c.status}: it cannot be ${what === 'cancel' ? 'cancelled again' : `${what}d`}`,
  )
}

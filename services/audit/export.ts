/**
 * The audit export of a period (docs/AUDIT.md): per-plant daily rows as stored in `rollup_1d`
 * (with the factor values and sources they used, `factors_json`, and their completeness), the
 * code version, the manual entries whose window touches the period with their history, and a
 * SHA-256 digest of the input readings; then signed (signing.ts). Reads InfluxDB only.
 */
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { localDayWindow } from '../../shared/emissions/index.js'
import { KawasanError } from '../../shared/errors.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { quoteString } from '../../shared/influx/influx-client.js'
import { ManualEntries, type ManualEntryWithHistory } from '../../shared/manual-entries/register.js'
import type { SiteModel } from '../../shared/site-model.js'
import { canonicalJson } from './signing.js'

export const AUDIT_FORMAT = 'kawasan-audit-export/1'
const DATE = /^\d{4}-\d{2}-\d{2}$/
const DAY_MS = 86_400_000

export interface AuditExportBody {
  format: typeof AUDIT_FORMAT
  cluster: string
  timezone: string
  from: string
  to: string
  generated_at: string
  code_version: { version: string; commit: string | null }
  completeness: { plant_days: number; complete: number; incomplete: string[]; missing: string[] }
  rows: Record<string, unknown>[]
  manual_entries: ManualEntryWithHistory[]
  input_digest: {
    algorithm: 'sha256'
    description: string
    window: { start: string; end: string }
    readings: number
    sha256: string
  }
}

/** package.json's version and the git commit (KAWASAN_COMMIT, else `git rev-parse HEAD`, else null). */
export function codeVersion(): { version: string; commit: string | null } {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  let commit = process.env.KAWASAN_COMMIT ?? null
  if (!commit)
    try {
      commit = execFileSync('git', ['rev-parse', 'HEAD'], {
        cwd: new URL('../..', import.meta.url),
        stdio: ['ignore', 'pipe', 'ignore'],
      })
        .toString()
        .trim()
    } catch {
      commit = null
    }
  return { version: pkg.version, commit }
}

export function checkPeriod(from: string, to: string): void {
  if (!DATE.test(from) || !DATE.test(to) || to < from)
    throw new KawasanError(
      'AUDIT_EXPORT_INVALID',
      `the period must be two local dates YYYY-MM-DD with to >= from (got from=${from} to=${to})`,
    )
}

export async function buildAuditExport(opts: {
  influx: InfluxClient
  site: SiteModel
  from: string
  to: string
  now?: () => number
}): Promise<AuditExportBody> {
  const { influx, site, from, to } = opts
  checkPeriod(from, to)
  const tz = site.cluster.timezone
  const cluster = site.cluster.id
  const start = localDayWindow(from, tz).start
  const end = localDayWindow(to, tz).end
  if (end - start > 366 * DAY_MS)
    throw new KawasanError('AUDIT_EXPORT_INVALID', 'the period is longer than 366 days: export it in parts')
  const where = `"cluster" = ${quoteString(cluster)} AND time >= ${start}000000 AND time < ${end}000000`
  const rows = ((await influx.query(`SELECT * FROM "rollup_1d" WHERE ${where}`))[0]?.rows ?? [])
    .map((r): Record<string, unknown> => ({ ...r, time: new Date(Number(r.time)).toISOString() }))
    .sort(
      (a, b) =>
        String(a.time).localeCompare(String(b.time)) || String(a.plant).localeCompare(String(b.plant)),
    )
  // Completeness: every plant of the site model on every local day of the period.
  const days: string[] = []
  for (let t = start; t < end; ) {
    const d = new Date(t + 12 * 3_600_000).toLocaleDateString('en-CA', { timeZone: tz })
    days.push(d)
    t = localDayWindow(d, tz).end
  }
  const plants = site.plants.map((p) => p.id)
  const byKey = new Map(rows.map((r) => [`${String(r.date)}/${String(r.plant)}`, r]))
  const incomplete: string[] = []
  const missing: string[] = []
  let complete = 0
  for (const d of days)
    for (const p of plants) {
      const r = byKey.get(`${d}/${p}`)
      if (!r) missing.push(`${d}/${p}`)
      else if (r.complete === true) complete++
      else incomplete.push(`${d}/${p}`)
    }
  const manual = (await new ManualEntries({ influx, site }).list()).filter((m) =>
    m.history.some((e) => [e.values, e.previous].some((c) => c && c.start < end && c.end > start)),
  )
  return {
    format: AUDIT_FORMAT,
    cluster,
    timezone: tz,
    from,
    to,
    generated_at: new Date((opts.now ?? Date.now)()).toISOString(),
    code_version: codeVersion(),
    completeness: { plant_days: days.length * plants.length, complete, incomplete, missing },
    rows,
    manual_entries: manual,
    input_digest: { ...(await readingsDigest(influx, cluster, start, end)), algorithm: 'sha256' },
  }
}

/**
 * SHA-256 over the cluster's readings in [start, end): each reading as canonical JSON (keys sorted,
 * time in epoch ms), the readings sorted by time, plant, device, then their JSON, one per line.
 * Read a day at a time so a long period never sits in memory.
 */
export async function readingsDigest(
  influx: InfluxClient,
  cluster: string,
  start: number,
  end: number,
): Promise<Omit<AuditExportBody['input_digest'], 'algorithm'>> {
  const hash = createHash('sha256')
  let count = 0
  for (let t = start; t < end; t += DAY_MS) {
    const e = Math.min(end, t + DAY_MS)
    const res = await influx.query(
      `SELECT * FROM "readings" WHERE "cluster" = ${quoteString(cluster)} AND time >= ${t}000000 AND time < ${e}000000`,
    )
    const lines = (res[0]?.rows ?? [])
      .map((r) => {
        const clean: Record<string, unknown> = {}
        for (const [k, v] of Object.entries(r)) if (v !== null && v !== undefined) clean[k] = v
        clean.time = Number(r.time)
        return { t: Number(r.time), p: String(r.plant), d: String(r.device), j: canonicalJson(clean) }
      })
      .sort((a, b) => a.t - b.t || a.p.localeCompare(b.p) || a.d.localeCompare(b.d) || a.j.localeCompare(b.j))
    for (const l of lines) hash.update(`${l.j}\n`)
    count += lines.length
  }
  return {
    description:
      'sha256 over the readings of the period: one canonical JSON object per reading (keys sorted, time in epoch ms, null fields left out), sorted by time, plant, device, then text, each followed by a newline',
    window: { start: new Date(start).toISOString(), end: new Date(end).toISOString() },
    readings: count,
    sha256: hash.digest('hex'),
  }
}

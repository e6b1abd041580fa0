/**
 * Certificate use before a day, from the days already stored in `rollup_1d`: certificates are
 * allocated to import in time order from the start of their validity (docs/CARBON-ACCOUNTING.md
 * "Certificates"), so a day's allocation depends on the import of the days before it. Replaying
 * the stored days gives each certificate's use at the day's start; days computed in order then add
 * up to the period computed at once.
 */
import { type CertificateUse, certificateUseAfter, localDayWindow } from '../../shared/emissions/index.js'
import type { InfluxClient } from '../../shared/influx/influx-client.js'
import { quoteIdent, quoteString } from '../../shared/influx/influx-client.js'
import { ROLLUP_MEASUREMENTS } from '../../shared/rollup-record.js'
import type { SiteModel } from '../../shared/site-model.js'
import { nsLiteral } from './reader.js'

/** Each plant's certificate use at `dayStart` (plants without certificates valid before it are left out). */
export async function certificateUseBefore(
  influx: InfluxClient,
  site: SiteModel,
  dayStart: number,
): Promise<Map<string, CertificateUse>> {
  const tz = site.cluster.timezone
  const out = new Map<string, CertificateUse>()
  const plants = site.plants.filter((p) =>
    p.certificates.some(
      (c) => c.production_hour === undefined && localDayWindow(c.from, tz).start < dayStart,
    ),
  )
  if (plants.length === 0) return out
  const earliest = Math.min(
    ...plants.flatMap((p) => p.certificates.map((c) => localDayWindow(c.from, tz).start)),
  )
  const q = `SELECT ${quoteIdent('grid_import_kwh')},${quoteIdent('certificates_hourly_kwh')},${quoteIdent('date')} FROM ${quoteIdent(ROLLUP_MEASUREMENTS['1d'])} WHERE ${quoteIdent('cluster')} = ${quoteString(site.cluster.id)} AND time >= ${nsLiteral(earliest)} AND time < ${nsLiteral(dayStart)} GROUP BY ${quoteIdent('plant')}`
  const byPlant = new Map((await influx.query(q)).map((s) => [s.tags.plant ?? '', s.rows]))
  for (const p of plants) {
    const days = (byPlant.get(p.id) ?? []).map((r) => ({
      date: String(r.date),
      importKwh: Number(r.grid_import_kwh ?? 0),
      hourlyKwh: Number(r.certificates_hourly_kwh ?? 0),
    }))
    out.set(p.id, certificateUseAfter(p.certificates, days))
  }
  return out
}

/**
 * `kawasan rollup backfill ...`: rolls up past days into the deployment's InfluxDB.
 * `kawasan rollup recompute ...`: the same for the days whose stored factors differ from the ones
 * now in force (or every day with `--all`, after a certificate change).
 */
import { foldEvents } from '../../shared/certificate-register/events.js'
import { withRegisterCertificates } from '../../shared/certificate-register/site-merge.js'
import { CertificateEventStore } from '../../shared/certificate-register/store.js'
import { localDateOf } from '../../shared/emissions/index.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import { backfillStateFile, runBackfill, streamProgress } from '../rollup/backfill.js'
import { RollupEngine } from '../rollup/compute.js'
import { clusterTiming } from '../rollup/config.js'
import { rollupFactors } from '../rollup/factor-choice.js'
import { staleFactorDays } from '../rollup/factor-staleness.js'
import { ReadingsReader } from '../rollup/reader.js'
import { resolveInflux } from '../stack/influx.js'
import type { CommandContext } from './commands.js'
import type { KawasanConfig } from './config.js'
import { ROLLUP_USAGE } from './rollup-options.js'

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/

export async function backfillCommand(
  config: KawasanConfig,
  ctx: CommandContext,
  mode: 'backfill' | 'recompute' = 'backfill',
): Promise<number> {
  const { values } = ctx.args
  const fail = (msg: string) => {
    ctx.err.write(`kawasan rollup ${mode}: ${msg}\n\nusage:\n${ROLLUP_USAGE}\n`)
    return 2
  }
  if (mode === 'backfill' && values.all !== undefined) return fail('--all belongs to `rollup recompute`')
  const { from, to, cluster } = values
  if (typeof from !== 'string' || !DATE_RE.test(from)) return fail('--from YYYY-MM-DD is required')
  if (typeof to !== 'string' || !DATE_RE.test(to)) return fail('--to YYYY-MM-DD is required')
  if (to < from) return fail(`--to ${to} is before --from ${from}`)
  const site = loadSiteModel(config.site)
  if (typeof cluster === 'string' && cluster !== site.cluster.id)
    return fail(`--cluster ${cluster}: the site model ${config.site} is cluster ${site.cluster.id}`)
  const today = localDateOf(Date.now(), site.cluster.timezone)
  if (to >= today) return fail(`--to must be before today (${today}); the scheduler rolls up today so far`)

  const log = createLogger({
    level: config.log.level === 'info' ? 'warn' : config.log.level,
    name: 'kawasan-rollup',
    format: ctx.logFormat,
  })
  const abort = new AbortController()
  const onSignal = () => {
    ctx.err.write('\nstopping after the current day; run the same command to resume\n')
    abort.abort()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const resolved = await resolveInflux(config, log, 'shared')
    const { url, database } = resolved.target
    ctx.err.write(
      `using InfluxDB ${url}, database ${database} (${resolved.origin === 'running-stack' ? 'of the running kawasan start' : 'INFLUX_URL'})\n`,
    )
    const influx = new InfluxClient(resolved.target)
    const timing = clusterTiming(config.rollup, site.cluster.id)
    // The sets in force per date (or the pinned one), built once for the whole range.
    const factors = rollupFactors(config.rollup)
    ctx.err.write(`factors: ${factors.label}\n`)
    // The register's retired certificates count as the scheduler's do (docs/CARBON-ACCOUNTING.md).
    const register = foldEvents(await new CertificateEventStore(influx, site.cluster.id).read())
    const engine = new RollupEngine({
      site: withRegisterCertificates(site, register),
      reader: new ReadingsReader(influx, site),
      influx,
      factors,
      expectedIntervalMs: timing.expectedIntervalMs,
      gapLimitMs: timing.gapLimitMs,
      devicesPerQuery: config.rollup.devicesPerQuery,
      counterNeighbourMs: config.rollup.counterNeighbourDays * 86_400_000,
      powerGapEstimateMaxMs: config.rollup.powerGapEstimateMaxMs,
    })
    const stateFile = backfillStateFile(config.dataDir, site.cluster.id, mode)
    let only: string[] | undefined
    if (mode === 'recompute' && values.all !== true) {
      const stale = await staleFactorDays(influx, site, factors, from, to)
      for (const s of stale) ctx.err.write(`${s.date}: ${s.plant} ${s.reason}\n`)
      ctx.err.write(
        `${stale.length} day(s) of ${from}..${to} recorded other factors than those now in force${stale.length ? '; recomputing them' : ''}\n`,
      )
      if (stale.length === 0) return 0
      only = stale.map((s) => s.date)
    }
    const result = await runBackfill({
      engine,
      from,
      to,
      ...(only ? { only } : {}),
      stateFile,
      restart: values.restart === true,
      minutes: values.minutes === true,
      signal: abort.signal,
      progress: streamProgress(process.stderr),
      onStart: (pos, resumedFrom) => {
        if (pos.next > pos.to)
          ctx.err.write(`already done according to ${stateFile}; --restart to roll up again\n`)
        else if (resumedFrom) ctx.err.write(`resuming at ${resumedFrom} (position in ${stateFile})\n`)
      },
    })
    ctx.err.write(
      result.interrupted
        ? `interrupted after ${result.days.length} days; position saved in ${stateFile}\n`
        : `done: ${result.days.length} days ${mode === 'recompute' ? 'recomputed' : 'rolled up'} (${from}..${to}, cluster ${site.cluster.id}) into ${url}/${database}\n`,
    )
    return result.interrupted ? 130 : 0
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

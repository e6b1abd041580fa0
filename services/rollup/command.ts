/** `kawasan rollup backfill ...`: argument parsing and process wiring around runBackfill. */
import { parseArgs } from 'node:util'
import { bundledFactorSet, localDateOf } from '../../shared/emissions/index.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { createLogger } from '../../shared/logger.js'
import { loadSiteModel } from '../../shared/site-model-file.js'
import type { KawasanConfig } from '../cli/config.js'
import { resolveInflux, type Stoppable } from '../cli/runtime.js'
import { backfillStateFile, runBackfill, streamProgress } from './backfill.js'
import { RollupEngine } from './compute.js'
import { clusterTiming } from './config.js'
import { ReadingsReader } from './reader.js'

export const ROLLUP_HELP = `kawasan rollup run
    The rollup scheduler alone: live snapshot, every-minute and daily rollups, late data, catch-up.

kawasan rollup backfill --from YYYY-MM-DD --to YYYY-MM-DD [--cluster ID] [--minutes] [--restart]
    Rolls up past local days (rollup_1d, rollup_1h; rollup_1m with --minutes) with a progress bar on
    stderr. The position is kept in <dataDir>/rollup/backfill-<cluster>.json: run the same command
    again after an interruption to resume; --restart starts from --from.`

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/

export async function backfillCommand(config: KawasanConfig, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      cluster: { type: 'string' },
      minutes: { type: 'boolean' },
      restart: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
    },
  })
  const from = values.from
  const to = values.to
  const fail = (msg: string) => {
    process.stderr.write(`kawasan rollup backfill: ${msg}\n\n${ROLLUP_HELP}\n`)
    return 1
  }
  if (typeof from !== 'string' || !DATE_RE.test(from)) return fail('--from YYYY-MM-DD is required')
  if (typeof to !== 'string' || !DATE_RE.test(to)) return fail('--to YYYY-MM-DD is required')
  if (to < from) return fail(`--to ${to} is before --from ${from}`)
  const site = loadSiteModel(config.site)
  if (typeof values.cluster === 'string' && values.cluster !== site.cluster.id)
    return fail(`--cluster ${values.cluster}: the site model ${config.site} is cluster ${site.cluster.id}`)
  const today = localDateOf(Date.now(), site.cluster.timezone)
  if (to >= today) return fail(`--to must be before today (${today}); the scheduler rolls up today so far`)

  const log = createLogger({
    level: config.log.level === 'info' ? 'warn' : config.log.level,
    name: 'kawasan-rollup',
  })
  const stoppers: Stoppable[] = []
  const abort = new AbortController()
  const onSignal = () => {
    process.stderr.write('\nstopping after the current day; run the same command to resume\n')
    abort.abort()
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const influx = new InfluxClient(await resolveInflux(config, log, stoppers))
    const timing = clusterTiming(config.rollup, site.cluster.id)
    const engine = new RollupEngine({
      site,
      reader: new ReadingsReader(influx, site),
      influx,
      factorSet: bundledFactorSet(config.rollup.factorSet),
      expectedIntervalMs: timing.expectedIntervalMs,
      gapLimitMs: timing.gapLimitMs,
      devicesPerQuery: config.rollup.devicesPerQuery,
      counterNeighbourMs: config.rollup.counterNeighbourDays * 86_400_000,
      powerGapEstimateMaxMs: config.rollup.powerGapEstimateMaxMs,
    })
    const stateFile = backfillStateFile(config.dataDir, site.cluster.id)
    const result = await runBackfill({
      engine,
      from,
      to,
      factorSet: config.rollup.factorSet,
      stateFile,
      restart: values.restart === true,
      minutes: values.minutes === true,
      signal: abort.signal,
      progress: streamProgress(process.stderr),
      onStart: (pos, resumedFrom) => {
        if (pos.next > pos.to)
          process.stderr.write(`already done according to ${stateFile}; --restart to roll up again\n`)
        else if (resumedFrom) process.stderr.write(`resuming at ${resumedFrom} (position in ${stateFile})\n`)
      },
    })
    process.stderr.write(
      result.interrupted
        ? `interrupted after ${result.days.length} days; position saved in ${stateFile}\n`
        : `done: ${result.days.length} days rolled up (${from}..${to}, cluster ${site.cluster.id})\n`,
    )
    return result.interrupted ? 130 : 0
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    for (const s of stoppers.reverse()) await s.stop().catch(() => undefined)
  }
}

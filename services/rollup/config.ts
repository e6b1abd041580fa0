/** Rollup settings (section `rollup` of the Kawasan config file). See services/rollup/README.md. */

import { z } from 'zod'
import { GWP_SET_NAMES } from '../../shared/emissions/factors/gwp.js'
import { loadOperatorFactorFile } from '../../shared/emissions/factors/operator-file.js'
import { BUNDLED_FACTOR_SETS } from '../../shared/emissions/index.js'
import { LATE_AFTER_MS } from '../../shared/store-schema.js'

const perClusterSchema = z.strictObject({
  expectedIntervalMs: z
    .number()
    .int()
    .min(100)
    .optional()
    .describe('Sample interval of this cluster’s devices (overrides rollup.expectedIntervalMs)'),
  gapLimitMs: z.number().int().min(1000).optional().describe('Gap limit for this cluster'),
})

export const rollupConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run the rollup scheduler with `kawasan start`'),
    liveEverySeconds: z
      .number()
      .int()
      .min(1)
      .max(60)
      .refine((s) => 60 % s === 0, 'must divide 60 (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 or 60)')
      .default(5)
      .describe('How often the `live` snapshot is written (a seconds cron step, so it must divide 60)'),
    expectedIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(5000)
      .describe('Per-device sample interval the coverage % is measured against'),
    gapLimitMs: z
      .number()
      .int()
      .min(1000)
      .default(60_000)
      .describe(
        'Longest step between power readings still integrated; windows are read with this margin either side',
      ),
    clusters: z
      .record(z.string(), perClusterSchema)
      .default({})
      .describe('Per-cluster overrides keyed by cluster id (sites whose gateways sample at another rate)'),
    factorSet: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Pins one emission factor set version (a bundled set, or the factor file’s version) for every date; unset: each window uses the set in force on its local date (docs/FACTORS.md). Every row records the set and factors it used',
      ),
    factorFile: z
      .string()
      .min(1)
      .superRefine((path, ctx) => {
        // Validated at start (docs/FACTORS.md): a typo in an operator factor must stop the service,
        // not fall back silently to a bundled factor.
        try {
          loadOperatorFactorFile(path)
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message })
        }
      })
      .optional()
      .describe(
        'Operator factor file (JSON, docs/FACTORS.md): supplier-specific, steam and fuel factors layered on a bundled set; rows record its version',
      ),
    gwp: z
      .enum(GWP_SET_NAMES)
      .optional()
      .describe('GWP set for CO2e (AR5 or AR6); default: the factor set’s own (AR5 for 2026.1)'),
    minuteGraceSeconds: z
      .number()
      .int()
      .min(LATE_AFTER_MS / 1000) // readings later than this are marked late and recomputed
      .max(50)
      .default(15)
      .describe(
        'The minute job runs this many seconds past the minute so in-flight readings land first; ingest marks readings older than 15 s as late (services/ingest/late-data.ts), so it is at least 15',
      ),
    todayEveryMinutes: z
      .number()
      .int()
      .min(1)
      .max(60)
      .default(1)
      .describe('Recompute today-so-far (rollup_1d, complete=false) every N minutes (it rereads the day)'),
    dailyAt: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM')
      .default('00:05')
      .describe('Local time at which yesterday is rolled up (complete=true)'),
    catchUpDays: z
      .number()
      .int()
      .min(0)
      .default(7)
      .describe('On start, complete days missing in rollup_1d within this many days are rolled up'),
    lateDataLookbackDays: z
      .number()
      .min(0)
      .default(7)
      .describe('Late-data markers older than this are ignored (use `kawasan rollup backfill`)'),
    certificatePollSeconds: z
      .number()
      .int()
      .min(0)
      .default(30)
      .describe(
        'How often the rollup reads the certificate register and recomputes the days a change affects, from the certificate’s first day (0: only at start)',
      ),
    onlineWithinSeconds: z
      .number()
      .int()
      .min(1)
      .default(30)
      .describe('A device with a reading this recent counts as online in the live snapshot'),
    powerGapEstimateMaxMs: z
      .number()
      .int()
      .min(0)
      .default(14_400_000)
      .describe(
        'A power-only meter silent longer than gapLimitMs but at most this long is estimated by a straight line between its readings (flag power_gap_estimated, counted in estimated_kwh); longer gaps stay missing; 0 disables',
      ),
    counterNeighbourDays: z
      .number()
      .min(0)
      .default(7)
      .describe(
        'A counter silent across a window edge is bridged to its next reading up to this many days away (its step is split between the windows it spans); beyond it the edge is missing',
      ),
    devicesPerQuery: z
      .number()
      .int()
      .min(1)
      .default(500)
      .describe('Devices read per InfluxDB query; bounds memory for big clusters'),
  })
  .superRefine((c, ctx) => {
    // A pinned version must exist: a bundled set, or the operator file's own version.
    if (c.factorSet === undefined || (BUNDLED_FACTOR_SETS as readonly string[]).includes(c.factorSet)) return
    let fileVersion: string | undefined
    try {
      fileVersion = c.factorFile ? loadOperatorFactorFile(c.factorFile).version : undefined
    } catch {
      return // reported on factorFile
    }
    if (c.factorSet !== fileVersion)
      ctx.addIssue({
        code: 'custom',
        path: ['factorSet'],
        message: `must be a bundled factor set (${BUNDLED_FACTOR_SETS.join(', ')})${fileVersion ? ` or the factor file's version (${fileVersion})` : ''}`,
      })
  })
  .prefault({})
export type RollupConfig = z.infer<typeof rollupConfigSchema>

/** The timing settings that apply to one cluster (global values with its override). */
export function clusterTiming(
  config: Pick<RollupConfig, 'expectedIntervalMs' | 'gapLimitMs' | 'clusters'>,
  cluster: string,
): { expectedIntervalMs: number; gapLimitMs: number } {
  const o = config.clusters[cluster] ?? {}
  return {
    expectedIntervalMs: o.expectedIntervalMs ?? config.expectedIntervalMs,
    gapLimitMs: o.gapLimitMs ?? config.gapLimitMs,
  }
}

/** Options and usage of a CLI command, apart from its code so `--help` stays light. */
import type { OptionSpec } from './cli-args.js'

export const BACKFILL_OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  cluster: { type: 'string' },
  minutes: { type: 'boolean' },
  restart: { type: 'boolean' },
  all: { type: 'boolean' },
} as const satisfies OptionSpec

export const ROLLUP_USAGE = `kawasan rollup run
    The rollup scheduler alone: live snapshot, every-minute and daily rollups, late data, catch-up;
    with alerts.enabled also the in-app alerts (docs/ALERTS.md).

kawasan rollup backfill --from YYYY-MM-DD --to YYYY-MM-DD [--cluster ID] [--minutes] [--restart]
    Rolls up past local days (rollup_1d, rollup_1h; rollup_1m with --minutes) with a progress bar on
    stderr, into INFLUX_URL or the InfluxDB of the \`kawasan start\` running in the same data directory.
    The position is kept in <dataDir>/rollup/backfill-<cluster>.json: run the same command again after
    an interruption to resume; --restart starts from --from.

kawasan rollup recompute --from YYYY-MM-DD --to YYYY-MM-DD [--all] [--minutes] [--restart]
    After a factor change (rollup.factorFile, rollup.gwp, rollup.factorSet; restart the scheduler
    too): recomputes the days whose stored rows recorded other factors than those now in force,
    with a progress bar. --all recomputes every day of the range: needed after a certificate change
    (give the certificate's whole period, which is allocated in time order). Resumes like backfill
    (<dataDir>/rollup/recompute-<cluster>.json).`

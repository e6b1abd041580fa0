/** Options and usage of `kawasan audit` and `kawasan manual`, apart from their code so `--help` stays light. */
import type { OptionSpec } from './cli-args.js'

export const AUDIT_OPTIONS = {
  from: { type: 'string' },
  to: { type: 'string' },
  out: { type: 'string' },
} as const satisfies OptionSpec

export const AUDIT_USAGE = `kawasan audit export --from YYYY-MM-DD --to YYYY-MM-DD --out FILE
    Writes the signed audit export of those local days (docs/AUDIT.md): daily plant rows with their
    factors, completeness, manual entries, code version and the readings digest, signed with the
    estate's Ed25519 key (<dataDir>/audit-ed25519.pem, created on first use, mode 0600).
kawasan audit verify FILE
    Checks the file's signature and content digest: exit 0 and the key fingerprint, or 1 and why.`

export const MANUAL_USAGE = `kawasan manual import FILE
    Saves the manual entries (corrections, meter replacements, fuel deliveries, utility bills) of a
    CSV file (header: the columns of its kinds, e.g. id,kind,plant,device,from,to,energy_kwh,reason;
    docs/AUDIT.md "Import files") or JSON file (an array of objects with the API's fields); a bad
    row refuses the whole file with each row's line and reason. The rollup recomputes the days they touch within
    rollup.certificatePollSeconds.
kawasan manual list
    Every entry with its audit trail (who, when, why, previous value).`

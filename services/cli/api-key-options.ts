/** Options and usage of a CLI command, apart from its code so `--help` stays light. */
import type { OptionSpec } from './cli-args.js'

export const API_KEY_OPTIONS = {
  scope: { type: 'string' },
  tenant: { type: 'string' },
  label: { type: 'string' },
  id: { type: 'string' },
} as const satisfies OptionSpec

export const API_KEY_USAGE = `kawasan api-key create --scope read|editor|admin [--tenant TENANT] [--label TEXT] [--id ID]
    Prints a new key once on stdout (only its scrypt hash is stored, in api.keysFile, default
    <dataDir>/api-keys.yaml); a running API accepts it within seconds. --tenant limits a read key to
    that tenant's plants; an editor key needs --tenant and enters that tenant's data (manual
    entries, production) besides reading it; --id gives the key a stable id (default: a random
    one) to revoke it by.
kawasan api-key list
kawasan api-key revoke ID`

/** Options and usage of `kawasan gateway`, apart from its code so `--help` stays light. */
import type { OptionSpec } from './cli-args.js'

export const GATEWAY_OPTIONS = {
  username: { type: 'string' },
  broker: { type: 'string' },
} as const satisfies OptionSpec

export const GATEWAY_USAGE = `kawasan gateway add PLANT [--username NAME] [--broker URL]
    Adds a gateway identity for PLANT to the site model (default username gw-PLANT) with a new random
    password, prints the edge agent's config on stdout and the password once on stderr (only its
    scrypt hash is kept). --broker is the URL the agent connects to (default:
    mqtt://<broker.host>:<broker.port>). Restart \`kawasan broker\` afterwards to load the identity.`

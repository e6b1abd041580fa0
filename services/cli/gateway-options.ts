/** Options and usage of `kawasan gateway`, apart from its code so `--help` stays light. */
import type { OptionSpec } from './cli-args.js'

export const GATEWAY_OPTIONS = {
  username: { type: 'string' },
  broker: { type: 'string' },
  'config-version': { type: 'string' },
} as const satisfies OptionSpec

export const GATEWAY_USAGE = `kawasan gateway add PLANT [--username NAME] [--broker URL]
    Adds a gateway identity for PLANT to the site model (default username gw-PLANT) with a new random
    password, prints the edge agent's config on stdout and the password once on stderr (only its
    scrypt hash is kept). --broker is the URL the agent connects to (default:
    mqtt://<broker.host>:<broker.port>). A \`kawasan start\` running on this data directory takes the
    identity at once (SIGHUP); a separate \`kawasan broker\` on SIGHUP or at its next start.
    The config carries the estate's public key (remote_config.public_key).
kawasan gateway revoke USERNAME
    Removes the gateway identity USERNAME from the site model (a stolen or retired gateway). Taken as
    \`add\` is: the broker closes the gateway's connection and refuses its password from then on.
kawasan gateway config PLANT FILE [--broker URL] [--config-version N]
    Checks FILE with the agent's schema, signs it with the estate key (<dataDir>/agent-config-signing.key,
    created on first use) and publishes it retained on the agent's config topic as the ingest identity
    (ingest.username/ingest.password). The version defaults to the time in ms; the agent refuses one
    not newer than what it runs, and reports the result in its retained status.`

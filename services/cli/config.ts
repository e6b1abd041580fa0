/**
 * The Kawasan config: one file (`--config kawasan.yaml` or KAWASAN_CONFIG) and/or environment
 * variables, validated once. Every section belongs to the service that reads it.
 */
import { z } from 'zod'
import { envVariables } from '../../shared/config-env.js'
import { type EnvMap, loadConfig } from '../../shared/config-loader.js'
import { alertsConfigSchema } from '../alerts/config.js'
import { apiConfigSchema } from '../api/config.js'
import { brokerConfigSchema } from '../broker/config.js'
import { ingestConfigSchema } from '../ingest/config.js'
import { rollupConfigSchema } from '../rollup/config.js'
import { simulatorConfigSchema } from '../simulator/config.js'

export const influxConfigSchema = z
  .strictObject({
    url: z
      .url()
      .optional()
      .describe('InfluxDB to use; unset = start a private InfluxDB 1.x from Debian packages under dataDir'),
    database: z
      .string()
      .min(1)
      .default('kawasan')
      .describe('v1 database (for 2.x: the DBRP-mapped database name)'),
    username: z.string().optional().describe('InfluxDB 1.x user'),
    password: z.string().optional().describe('InfluxDB 1.x password'),
    token: z.string().optional().describe('InfluxDB 2.x/3.x token'),
    org: z
      .string()
      .optional()
      .describe('InfluxDB 2.x org: with bucket, writes use @influxdata/influxdb-client'),
    bucket: z.string().optional().describe('InfluxDB 2.x bucket (with org)'),
    localPort: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(18086)
      .describe('Port of the private InfluxDB (a free one is used if taken)'),
  })
  .prefault({})

export const kawasanConfigSchema = z.strictObject({
  site: z
    .string()
    .default('infra/examples/cikarang/site.yaml')
    .describe('Site model file (cluster, plants, devices, MQTT identities)'),
  dataDir: z.string().default('data').describe('Where the private InfluxDB and local state live'),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default('info')
        .describe('pino log level'),
    })
    .prefault({}),
  influx: influxConfigSchema,
  broker: brokerConfigSchema,
  ingest: ingestConfigSchema,
  simulator: simulatorConfigSchema,
  rollup: rollupConfigSchema,
  api: apiConfigSchema,
  alerts: alertsConfigSchema,
  ops: z
    .strictObject({
      host: z
        .string()
        .default('127.0.0.1')
        .describe('Listen address of the ops endpoints (0.0.0.0 in a container, for health checks)'),
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(9464)
        .describe('/health, /ready and Prometheus /metrics'),
    })
    .prefault({}),
})
export type KawasanConfig = z.infer<typeof kawasanConfigSchema>

/**
 * Short variable names from before the KAWASAN_<PATH> rule, kept working as aliases of the
 * derived names (docs/CONFIGURATION.md). KAWASAN_SITE and KAWASAN_DATA_DIR
 * already follow the rule and are listed for the compose check.
 */
export const ENV_MAP: EnvMap = {
  KAWASAN_SITE: 'site',
  KAWASAN_DATA_DIR: 'dataDir',
  LOG_LEVEL: 'log.level',
  INFLUX_URL: 'influx.url',
  INFLUX_DATABASE: 'influx.database',
  INFLUX_USERNAME: 'influx.username',
  INFLUX_PASSWORD: 'influx.password',
  INFLUX_TOKEN: 'influx.token',
  INFLUX_ORG: 'influx.org',
  INFLUX_BUCKET: 'influx.bucket',
  MQTT_HOST: 'broker.host',
  MQTT_PORT: 'broker.port',
  REDIS_URL: 'broker.redis.url',
  INGEST_MODE: 'ingest.mode',
  INGEST_MQTT_URL: 'ingest.url',
  INGEST_MQTT_USERNAME: 'ingest.username',
  INGEST_MQTT_PASSWORD: 'ingest.password',
  INGEST_CONNECTIONS: 'ingest.connections',
  INGEST_SHARE_GROUP: 'ingest.shareGroup',
  INGEST_CLIENT_ID_PREFIX: 'ingest.clientIdPrefix',
  INGEST_LEAVE_GROUP_ON_STOP: 'ingest.leaveGroupOnStop',
  INGEST_MAX_AGE_DAYS: 'ingest.maxAgeDays',
  OPS_HOST: 'ops.host',
  OPS_PORT: 'ops.port',
  SIMULATOR_ENABLED: 'simulator.enabled',
  SIMULATOR_INTERVAL_MS: 'simulator.intervalMs',
  SIMULATOR_MQTT_URL: 'simulator.url',
  ROLLUP_ENABLED: 'rollup.enabled',
  ROLLUP_LIVE_EVERY_SECONDS: 'rollup.liveEverySeconds',
  ROLLUP_EXPECTED_INTERVAL_MS: 'rollup.expectedIntervalMs',
  ROLLUP_GAP_LIMIT_MS: 'rollup.gapLimitMs',
  ROLLUP_FACTOR_SET: 'rollup.factorSet',
  ROLLUP_LATE_DATA_LOOKBACK_DAYS: 'rollup.lateDataLookbackDays',
  ROLLUP_CATCH_UP_DAYS: 'rollup.catchUpDays',
  API_ENABLED: 'api.enabled',
  API_HOST: 'api.host',
  API_PORT: 'api.port',
  API_KEYS_FILE: 'api.keysFile',
  API_DEMO_READ_KEY: 'api.demoReadKey',
  API_RATE_LIMIT_MAX: 'api.rateLimit.max',
  API_LIVE_POLL_MS: 'api.livePollMs',
  API_STATUS_MQTT_URL: 'api.statusMqtt.url',
  API_STATUS_MQTT_USERNAME: 'api.statusMqtt.username',
  API_STATUS_MQTT_PASSWORD: 'api.statusMqtt.password',
}

/** Every setting's environment variable (KAWASAN_ + path), with its aliases. */
export const KAWASAN_ENV = envVariables(kawasanConfigSchema, ENV_MAP)

/**
 * KAWASAN_* variables that are not settings: the config file path, the edge agent's, and the ones
 * docker-compose.yml and .env.example use for interpolation and for Grafana. Not warned about.
 */
export const FOREIGN_KAWASAN_ENV = [
  'KAWASAN_CONFIG',
  'KAWASAN_AGENT_CONFIG',
  'KAWASAN_AGENT_PASSWORD',
  'KAWASAN_VERSION',
  'KAWASAN_SITE_DIR',
  'KAWASAN_INFLUX_USER',
] as const

export function loadKawasanConfig(
  file?: string,
  env: NodeJS.ProcessEnv = process.env,
  onWarning: (message: string) => void = (m) => process.emitWarning(m, { code: 'KAWASAN_ENV_UNKNOWN' }),
): KawasanConfig {
  return loadConfig(kawasanConfigSchema, {
    file: file ?? env.KAWASAN_CONFIG,
    env,
    envVariables: KAWASAN_ENV,
    ignoreEnv: FOREIGN_KAWASAN_ENV,
    onWarning,
  })
}

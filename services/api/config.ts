/** API and dashboard settings (section `api`). Every field is described; defaults run the demo. */
import { z } from 'zod'

export const apiConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run the API and dashboard with `kawasan start`'),
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Listen address; 0.0.0.0 only behind a TLS reverse proxy (keys travel in headers)'),
    port: z.number().int().min(0).max(65535).default(8080).describe('HTTP port of the API and dashboard'),
    keysFile: z
      .string()
      .optional()
      .describe('API keys file (YAML, hashes only); default <dataDir>/api-keys.yaml'),
    demoReadKey: z
      .boolean()
      .default(false)
      .describe(
        'Create a fresh read key named "demo" at start and print the dashboard URL with it (on for `kawasan start`)',
      ),
    rateLimit: z
      .strictObject({
        max: z
          .number()
          .int()
          .min(1)
          .default(600)
          .describe(
            'Requests per client address per window, counted before the key is checked (behind a reverse proxy every client shares its address: raise it there)',
          ),
        windowMs: z.number().int().min(1000).default(60_000).describe('Rate limit window'),
        maxKeyFailures: z
          .number()
          .int()
          .min(1)
          .default(10)
          .describe(
            'Wrong or unknown API keys one address may present per window; then 429 before any key is checked (each check costs an scrypt). Keys verified before keep working',
          ),
      })
      .prefault({}),
    corsOrigins: z
      .array(z.string())
      .default([])
      .describe('Browser origins allowed to call the API cross-origin; empty = CORS off'),
    livePollMs: z
      .number()
      .int()
      .min(200)
      .default(2000)
      .describe('How often the live feed looks for a new `live` snapshot in InfluxDB (SSE)'),
    offlineAfterS: z
      .number()
      .int()
      .min(1)
      .default(60)
      .describe('A device with no reading for this long is shown offline'),
    statusMqtt: z
      .strictObject({
        url: z.string().describe('Broker to watch agent status topics on, e.g. mqtt://broker:1883'),
        username: z.string().optional().describe('An observer identity of the site model'),
        password: z.string().optional().describe('Password of that identity'),
      })
      .optional()
      .describe(
        'When the API runs without the broker in its process: where to watch agent online/offline and buffer depth',
      ),
  })
  .prefault({})
export type ApiConfig = z.infer<typeof apiConfigSchema>

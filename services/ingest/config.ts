/** Ingest settings (section `ingest` of the Kawasan config file). */
import { z } from 'zod'

export const ingestConfigSchema = z
  .strictObject({
    mode: z
      .enum(['in-broker', 'subscriber'])
      .default('in-broker')
      .describe(
        'in-broker: ingest runs inside our aedes broker and holds each PUBACK until InfluxDB has the data; subscriber: ingest subscribes to an external broker (mosquitto, EMQX, HiveMQ)',
      ),
    url: z
      .string()
      .optional()
      .describe('Subscriber mode: broker URL, e.g. mqtt://127.0.0.1:1883 or mqtts://broker:8883'),
    username: z.string().optional().describe('Subscriber mode: the ingest identity of the site model'),
    password: z.string().optional().describe('Subscriber mode: its password'),
    clientIdPrefix: z
      .string()
      .default('kawasan-ingest')
      .describe('Fixed client ids keep persistent sessions across restarts'),
    connections: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(4)
      .describe(
        'Subscriber mode: MQTT connections; each pipelines up to 1000 messages, each acknowledged after its write (docs/SCALING.md)',
      ),
    shareGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional()
      .describe(
        'Subscriber mode: join $share/{group}/... (MQTT 5) so several ingest instances split the load',
      ),
    leaveGroupOnStop: z
      .boolean()
      .default(false)
      .describe(
        'With shareGroup: on SIGTERM leave the group and end the sessions, so the other instances take over (scale-down). Never on the only instance.',
      ),
    maxFutureSeconds: z
      .number()
      .int()
      .min(0)
      .default(300)
      .describe('Readings further ahead of the server clock go to dead letter'),
    maxAgeDays: z
      .number()
      .min(0)
      .default(35)
      .describe(
        'Readings older than this go to dead letter as stale_timestamp (0 = no limit). Bounds the InfluxDB shards (7 days each) one message can create; raise it before replaying an agent buffer older than this',
      ),
    maxBatchLines: z.number().int().min(1).default(5000).describe('Most lines per InfluxDB write'),
    flushIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(50)
      .describe('Longest wait before a partial batch is written'),
    minWriteIntervalMs: z
      .number()
      .int()
      .min(0)
      .default(20)
      .describe(
        'Under load (the last write carried 50 lines or more), the shortest time between the starts of two InfluxDB writes, so each carries more lines; 0 = none',
      ),
    maxPendingLines: z
      .number()
      .int()
      .min(1000)
      .default(200_000)
      .describe('Back-pressure: above this, stop reading from publishers'),
  })
  .prefault({})
  .refine((c) => c.mode !== 'subscriber' || !!c.url, {
    message:
      'subscriber mode needs ingest.url (KAWASAN_INGEST_URL or INGEST_MQTT_URL), the broker to subscribe to',
    path: ['url'],
  })
export type IngestConfig = z.infer<typeof ingestConfigSchema>

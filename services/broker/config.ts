/** Broker settings (part of the Kawasan config file, section `broker`). */
import { z } from 'zod'
import { MAX_PAYLOAD_BYTES } from '../../shared/telemetry-schema.js'
import { DEFAULT_READ_AHEAD } from './read-ahead.js'

export const brokerConfigSchema = z
  .strictObject({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Address the MQTT listener binds to (0.0.0.0 for gateways on the plant network)'),
    port: z.number().int().min(0).max(65535).default(1883).describe('MQTT over TCP'),
    tls: z
      .strictObject({
        port: z.number().int().min(0).max(65535).default(8883).describe('MQTT over TLS'),
        certFile: z.string().describe('PEM certificate of the broker'),
        keyFile: z.string().describe('PEM private key of the broker'),
        caFile: z.string().optional().describe('CA that signs gateway client certificates'),
        requireClientCert: z
          .boolean()
          .default(false)
          .describe('Refuse gateways without a client certificate signed by caFile (mutual TLS)'),
      })
      .optional()
      .describe('MQTT over TLS listener; make certificates with infra/tls/make-certs.sh'),
    redis: z
      .strictObject({
        url: z
          .string()
          .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
          .describe('Redis shared by every broker instance, e.g. redis://redis:6379/0'),
        maxSessionDelivery: z
          .number()
          .int()
          .min(1)
          .default(100_000)
          .describe(
            'Queued QoS 1 messages a persistent session gets on reconnect (aedes-persistence-redis reads only this many; its default 1000 strands the rest until the next reconnect)',
          ),
      })
      .optional()
      .describe(
        'Scale-out (docs/DESIGN.md §7): brokers sharing this Redis (mqemitter-redis, aedes-persistence-redis) forward messages to each other and keep sessions there; see docs/SCALING.md',
      ),
    drainTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe(
        "A subscriber that stops reading for this long is disconnected. Delivery to subscribers runs in the publishers' path, so a frozen one stalls every gateway until then (REL-09; aedes default 60 s)",
      ),
    connectTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .default(10_000)
      .describe(
        'A socket that has not sent a complete CONNECT after this long is closed (aedes default 30 s)',
      ),
    maxPendingConnections: z
      .number()
      .int()
      .min(1)
      .default(512)
      .describe(
        'Sockets that have not completed CONNECT at once; further ones are closed at once (docs/SECURITY.md). Above the number of gateways that reconnect together after a broker restart',
      ),
    maxConnectBytes: z
      .number()
      .int()
      .min(256)
      .default(4096)
      .describe(
        'Largest CONNECT (client id, credentials, will), checked on the stream before it is buffered',
      ),
    maxPacketBytes: z
      .number()
      .int()
      .min(1024)
      .default(MAX_PAYLOAD_BYTES + 1024)
      .describe(
        'Largest packet after CONNECT, checked on the stream before it is buffered: the connection is cut. Default: the largest telemetry payload ingest accepts plus room for the topic',
      ),
    maxClientIdsPerIdentity: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe(
        'Client ids one identity may hold at once (connected, or with a stored session after a clean=false login); bounds the client id map (docs/SECURITY.md)',
      ),
    loginLimiter: z
      .object({
        maxFailuresPerUser: z
          .number()
          .int()
          .min(1)
          .default(10)
          .describe(
            'Wrong passwords for one username from one address, within the window, that block that pair',
          ),
        maxFailuresPerAddress: z
          .number()
          .int()
          .min(1)
          .default(100)
          .describe(
            'Wrong passwords from one address (any username) that block usernames not recently logged in from there',
          ),
        windowMs: z
          .number()
          .int()
          .min(1000)
          .default(60_000)
          .describe('Failures older than this are forgotten'),
        knownForMs: z
          .number()
          .int()
          .min(0)
          .default(24 * 3600_000)
          .describe(
            "A username that logged in from an address is exempt from that address's block this long",
          ),
      })
      .prefault({})
      .describe(
        'Login limiter keyed by address and username, so a shared NAT address cannot lock a gateway out',
      ),
    readAhead: z
      .strictObject({
        maxHeldBytes: z
          .number()
          .int()
          .min(0)
          .default(DEFAULT_READ_AHEAD.maxHeldBytes)
          .describe(
            'Payload bytes of one connection that may wait for their write beyond its current socket read',
          ),
        maxHeldMessages: z
          .number()
          .int()
          .min(0)
          .default(DEFAULT_READ_AHEAD.maxHeldMessages)
          .describe(
            'Messages of one connection that may wait for their write beyond its current socket read',
          ),
      })
      .prefault({})
      .describe(
        "In-broker ingest: how far the broker reads a gateway's connection ahead while its messages are written to InfluxDB (PUBACKs still wait for the write; 0 = one socket read at a time, as aedes alone does). docs/PERFORMANCE.md",
      ),
  })
  .prefault({})
export type BrokerConfig = z.infer<typeof brokerConfigSchema>

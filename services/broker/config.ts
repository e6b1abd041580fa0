/** Broker settings (part of the Kawasan config file, section `broker`). */
import { z } from 'zod'

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
        'Scale-out (DESIGN §7): brokers sharing this Redis (mqemitter-redis, aedes-persistence-redis) forward messages to each other and keep sessions there; see docs/SCALING.md',
      ),
    drainTimeoutMs: z
      .number()
      .int()
      .min(0)
      .default(5000)
      .describe(
        "A subscriber that stops reading for this long is disconnected. Delivery to subscribers runs in the publishers' path, so a frozen one stalls every gateway until then (REL-09; aedes default 60 s)",
      ),
  })
  .prefault({})
export type BrokerConfig = z.infer<typeof brokerConfigSchema>

/** Broker settings (part of the Kawasan config file, section `broker`). */
import { z } from 'zod'

export const brokerConfigSchema = z
  .object({
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Address the MQTT listener binds to (0.0.0.0 for gateways on the plant network)'),
    port: z.number().int().min(0).max(65535).default(1883).describe('MQTT over TCP'),
    tls: z
      .object({
        port: z.number().int().min(0).max(65535).default(8883),
        certFile: z.string().describe('PEM certificate of the broker'),
        keyFile: z.string().describe('PEM private key of the broker'),
        caFile: z.string().optional().describe('CA that signs gateway client certificates'),
        requireClientCert: z.boolean().default(false),
      })
      .optional()
      .describe('MQTT over TLS listener; make certificates with infra/tls/make-certs.sh'),
  })
  .prefault({})
export type BrokerConfig = z.infer<typeof brokerConfigSchema>

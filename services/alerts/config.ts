/**
 * In-app alerts (section `alerts`; docs/ALERTS.md): rules evaluated by the alerts part against the
 * store, and the webhook that receives each firing and resolved notification, signed and retried.
 * The operational alerts on service metrics are Prometheus rules (infra/prometheus/).
 */
import { z } from 'zod'

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be an id (lower-case letters, digits, "-", "_")')
/** A plant id, or `_cluster` for the cluster total. */
const liveTag = z
  .string()
  .regex(/^([a-z0-9][a-z0-9_-]{0,62}|_cluster)$/, 'must be a plant id or _cluster')
  .describe('Plant id, or _cluster for the cluster total')

export const alertRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    id: id.describe('Rule id, in every notification'),
    kind: z.literal('device_offline'),
    plant: id.optional().describe('Only devices of this plant (default: every plant)'),
    device: id.optional().describe('Only this device id'),
    after_s: z.number().int().min(1).default(300).describe('Seconds without a stored reading'),
  }),
  z.strictObject({
    id,
    kind: z.literal('power_above'),
    plant: liveTag,
    kw: z.number().positive().describe('Consumption (kW, live snapshot) above which the alert fires'),
  }),
  z.strictObject({
    id,
    kind: z.literal('carbon_intensity_above'),
    plant: liveTag,
    g_co2e_per_kwh: z.number().positive().describe('Live carbon intensity above which the alert fires'),
  }),
  z.strictObject({
    id,
    kind: z.literal('off_track'),
    target: id.describe(
      'Target id of the site model (docs/TARGETS.md): fires while its rolling 12-month gap is above 0',
    ),
  }),
])
export type AlertRule = z.infer<typeof alertRuleSchema>

export const alertsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Evaluate the rules and send notifications'),
    intervalMs: z.number().int().min(50).default(30_000).describe('How often the rules are evaluated'),
    targetIntervalMs: z
      .number()
      .int()
      .min(50)
      .default(900_000)
      .describe('How often off_track rules re-read the daily rollups (they change once a day)'),
    evaluationsKeepDays: z
      .number()
      .int()
      .min(1)
      .default(31)
      .describe(
        'Days of alert_evaluations (the lease heartbeats) kept; the lease holder deletes older ones hourly',
      ),
    rules: z.array(alertRuleSchema).default([]).describe('Alert rules (docs/ALERTS.md)'),
    webhook: z
      .strictObject({
        url: z
          .url()
          .optional()
          .describe('Receiver of the notifications (POST, JSON); unset: alerts are only logged'),
        secret: z
          .string()
          .min(16)
          .optional()
          .describe(
            'HMAC-SHA256 key of the X-Kawasan-Signature header (at least 16 characters; keep it in the environment)',
          ),
        timeoutMs: z.number().int().min(100).default(5000).describe('Per attempt'),
        maxAttempts: z
          .number()
          .int()
          .min(1)
          .max(20)
          .default(6)
          .describe('Attempts per notification before it is dropped and logged'),
        backoffMs: z
          .number()
          .int()
          .min(1)
          .default(1000)
          .describe('Wait before the first retry; doubled each retry'),
        maxBackoffMs: z.number().int().min(1).default(60_000).describe('Longest wait between attempts'),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>()
    c.rules.forEach((r, i) => {
      if (seen.has(r.id))
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${r.id}"` })
      seen.add(r.id)
    })
    if (c.webhook.url && !c.webhook.secret)
      ctx.addIssue({
        code: 'custom',
        path: ['webhook', 'secret'],
        message: 'a webhook needs a secret to sign its notifications',
      })
  })
  .prefault({})
export type AlertsConfig = z.infer<typeof alertsConfigSchema>

/**
 * What a gateway may put on a topic it is allowed to publish on (the ACL decides the topic): status
 * messages are retained and replayed to every new subscriber and shown by the API, so they are
 * bounded in size, must match the status schema and must name a device of the site model (or the
 * edge agent's own `agent` id); telemetry is never retained (docs/SECURITY.md "Bounds").
 */
import { AGENT_STATUS_DEVICE_ID, type SiteIndex } from '../../shared/site-model.js'
import { statusSchema } from '../../shared/telemetry-schema.js'
import type { DeviceTopic } from '../../shared/topics.js'

/** An agent status is about 150 bytes of JSON; 1 KiB leaves room for a long version string. */
export const MAX_STATUS_BYTES = 1024

export type ContentVerdict =
  | { ok: true; stripRetain: boolean }
  | { ok: false; kind: 'status_refused'; reason: string }

export function checkContent(
  site: SiteIndex,
  topic: DeviceTopic,
  payload: Buffer,
  retain: boolean,
): ContentVerdict {
  if (topic.kind === 'telemetry') return { ok: true, stripRetain: retain }
  if (topic.device !== AGENT_STATUS_DEVICE_ID && !site.device(topic.cluster, topic.plant, topic.device))
    return { ok: false, kind: 'status_refused', reason: `device ${topic.device} is not in the site model` }
  // An empty retained message clears the retained status [MQTT-3.3.1-10]: harmless on a known device.
  if (payload.length === 0) return { ok: true, stripRetain: false }
  if (payload.length > MAX_STATUS_BYTES)
    return {
      ok: false,
      kind: 'status_refused',
      reason: `status of ${payload.length} bytes (limit ${MAX_STATUS_BYTES})`,
    }
  let json: unknown
  try {
    json = JSON.parse(payload.toString('utf8'))
  } catch {
    return { ok: false, kind: 'status_refused', reason: 'status is not JSON' }
  }
  const parsed = statusSchema.safeParse(json)
  if (!parsed.success)
    return {
      ok: false,
      kind: 'status_refused',
      reason:
        `status does not match the schema: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim(),
    }
  return { ok: true, stripRetain: false }
}

/**
 * Who may publish and subscribe where (docs/DESIGN.md §3): a gateway publishes only its own plant's telemetry
 * and status and subscribes to nothing outside its plant; the ingest and observer identities may
 * subscribe to Kawasan topics and publish nothing. `$SYS` is closed to everyone ([MQTT-4.7.2-1]
 * keeps `#` from matching it; an explicit `$SYS/...` filter is refused here).
 */
import type { Identity } from '../../shared/site-model.js'
import { parseDeviceTopic, parseTimeRequestTopic, TOPIC_ROOT } from '../../shared/topics.js'

export type AclDecision = { allowed: true } | { allowed: false; reason: string }

const allow: AclDecision = { allowed: true }

export function canPublish(identity: Identity, clusterId: string, topic: string): AclDecision {
  if (identity.role !== 'gateway')
    return { allowed: false, reason: `${identity.role} identities do not publish` }
  // A time request (topics.ts) is held to the same plant rule as the device topics.
  const t = parseDeviceTopic(topic) ?? parseTimeRequestTopic(topic)
  if (!t) return { allowed: false, reason: 'not a Kawasan device topic' }
  if (t.cluster !== clusterId)
    return { allowed: false, reason: `cluster ${t.cluster} is not this broker's (${clusterId})` }
  if (t.plant !== identity.plant)
    return {
      allowed: false,
      reason: `gateway of plant ${identity.plant} may not publish for plant ${t.plant}`,
    }
  return allow
}

export function canSubscribe(identity: Identity, clusterId: string, filter: string): AclDecision {
  if (filter.startsWith('$')) return { allowed: false, reason: '$-topics are closed' }
  if (identity.role === 'gateway') {
    const own = `${TOPIC_ROOT}/${clusterId}/${identity.plant}/`
    return filter.startsWith(own)
      ? allow
      : { allowed: false, reason: `a gateway subscribes only under ${own}` }
  }
  const root = `${TOPIC_ROOT}/`
  return filter.startsWith(root) ? allow : { allowed: false, reason: `subscriptions must be under ${root}` }
}

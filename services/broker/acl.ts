/**
 * Who may publish and subscribe where (docs/DESIGN.md §3): a gateway publishes only its own plant's telemetry
 * and status and subscribes to nothing outside its plant; the ingest and observer identities may
 * subscribe to Kawasan topics and publish nothing. `$SYS` is closed to everyone ([MQTT-4.7.2-1]
 * keeps `#` from matching it; an explicit `$SYS/...` filter is refused here).
 */
import type { Identity } from '../../shared/site-model.js'
import {
  isEdgeMessage,
  isSparkplugTopic,
  parseSparkplugTopic,
  SPARKPLUG_NAMESPACE,
} from '../../shared/sparkplug-topics.js'
import {
  parseAgentConfigTopic,
  parseDeviceTopic,
  parseTimeRequestTopic,
  TOPIC_ROOT,
} from '../../shared/topics.js'

export type AclDecision = { allowed: true } | { allowed: false; reason: string }

const allow: AclDecision = { allowed: true }

/** The plant a Sparkplug edge node is mapped to in the site model (docs/SPARKPLUG.md), if any. */
export type SparkplugPlantOf = (group: string, edgeNode: string) => string | undefined

export function canPublish(
  identity: Identity,
  clusterId: string,
  topic: string,
  sparkplugPlantOf?: SparkplugPlantOf,
): AclDecision {
  // A signed agent config is the estate's to publish (`kawasan gateway config`), never a gateway's.
  const config = parseAgentConfigTopic(topic)
  if (config) {
    if (identity.role !== 'ingest')
      return { allowed: false, reason: `only the estate (ingest identity) publishes agent configs` }
    return config.cluster === clusterId
      ? allow
      : { allowed: false, reason: `cluster ${config.cluster} is not this broker's (${clusterId})` }
  }
  if (identity.role !== 'gateway')
    return { allowed: false, reason: `${identity.role} identities do not publish` }
  if (isSparkplugTopic(topic)) return canPublishSparkplug(identity, topic, sparkplugPlantOf)
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

/**
 * A gateway publishes an edge node's messages (BIRTH, DATA, DEATH) only for edge nodes the site
 * model maps to its plant; commands and STATE are the host application's, never a gateway's.
 */
function canPublishSparkplug(
  identity: Identity,
  topic: string,
  plantOf: SparkplugPlantOf | undefined,
): AclDecision {
  const t = parseSparkplugTopic(topic)
  if (!t || !isEdgeMessage(t))
    return {
      allowed: false,
      reason: 'not a Sparkplug edge node message (NBIRTH/NDATA/NDEATH/DBIRTH/DDATA/DDEATH)',
    }
  const plant = plantOf?.(t.group, t.edgeNode)
  if (plant === undefined)
    return { allowed: false, reason: `Sparkplug edge node ${t.group}/${t.edgeNode} is not in the site model` }
  if (plant !== identity.plant)
    return {
      allowed: false,
      reason: `gateway of plant ${identity.plant} may not publish for edge node ${t.group}/${t.edgeNode} of plant ${plant}`,
    }
  return allow
}

/**
 * What a gateway may read of the Sparkplug namespace: commands (NCMD/DCMD) to its plant's edge
 * nodes, named literally (no wildcard before the edge node), and the host applications' STATE.
 */
function canSubscribeSparkplug(
  identity: Identity,
  filter: string,
  plantOf: SparkplugPlantOf | undefined,
): AclDecision {
  const parts = filter.split('/')
  if (parts[1] === 'STATE') return allow
  const [, group, type, edgeNode] = parts
  const literal = (p: string | undefined): p is string => !!p && p !== '+' && p !== '#'
  if (!literal(group) || (type !== 'NCMD' && type !== 'DCMD') || !literal(edgeNode))
    return {
      allowed: false,
      reason: `a gateway subscribes only to NCMD/DCMD of its own edge nodes and to STATE`,
    }
  const plant = plantOf?.(group, edgeNode)
  return plant !== undefined && plant === identity.plant
    ? allow
    : { allowed: false, reason: `edge node ${group}/${edgeNode} is not one of plant ${identity.plant}` }
}

export function canSubscribe(
  identity: Identity,
  clusterId: string,
  filter: string,
  sparkplugPlantOf?: SparkplugPlantOf,
): AclDecision {
  if (filter.startsWith('$')) return { allowed: false, reason: '$-topics are closed' }
  if (identity.role === 'gateway' && filter.startsWith(`${SPARKPLUG_NAMESPACE}/`))
    return canSubscribeSparkplug(identity, filter, sparkplugPlantOf)
  // The ingest and observer identities read the Sparkplug namespace like Kawasan's own.
  if (filter.startsWith(`${SPARKPLUG_NAMESPACE}/`)) return allow
  if (identity.role === 'gateway') {
    const own = `${TOPIC_ROOT}/${clusterId}/${identity.plant}/`
    // This includes the plant's agent config topics, and never another plant's.
    return filter.startsWith(own)
      ? allow
      : { allowed: false, reason: `a gateway subscribes only under ${own}` }
  }
  const root = `${TOPIC_ROOT}/`
  return filter.startsWith(root) ? allow : { allowed: false, reason: `subscriptions must be under ${root}` }
}

/**
 * MQTT topic layout (docs/DESIGN.md §3). Ids are restricted so a topic level can never contain the MQTT
 * separators or wildcards ([MQTT-4.7.1-1]) and line-protocol tag escaping stays trivial.
 */
export const TOPIC_ROOT = 'kawasan/v1'
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/
export const ID_RULE =
  'lower-case letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters'

export type TopicKind = 'telemetry' | 'status'

export interface DeviceTopic {
  cluster: string
  plant: string
  device: string
  kind: TopicKind
}

export function telemetryTopic(cluster: string, plant: string, device: string): string {
  return `${TOPIC_ROOT}/${cluster}/${plant}/${device}/telemetry`
}

export function statusTopic(cluster: string, plant: string, device: string): string {
  return `${TOPIC_ROOT}/${cluster}/${plant}/${device}/status`
}

/** All telemetry of a cluster (or of every cluster when cluster is '+'), for subscribers. */
export function telemetryFilter(cluster = '+', plant = '+'): string {
  return `${TOPIC_ROOT}/${cluster}/${plant}/+/telemetry`
}

/** Topics parsed lately (a gateway repeats its few topics on every message; the broker and ingest
 * asked 3–4 times per message: split and three regular expressions each). Bounded: emptied when full. */
const parsedTopics = new Map<string, Readonly<DeviceTopic> | null>()
const PARSED_TOPICS_MAX = 10_000

/** Parses a device topic; undefined when it is not one of ours or an id is malformed. The result
 * is shared between callers: read-only. */
export function parseDeviceTopic(topic: string): Readonly<DeviceTopic> | undefined {
  const known = parsedTopics.get(topic)
  if (known !== undefined) return known ?? undefined
  const parsed = parseDeviceTopicAfresh(topic)
  if (parsedTopics.size >= PARSED_TOPICS_MAX) parsedTopics.clear()
  parsedTopics.set(topic, parsed ? Object.freeze(parsed) : null)
  return parsed
}

function parseDeviceTopicAfresh(topic: string): DeviceTopic | undefined {
  const parts = topic.split('/')
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT) return undefined
  const [, , cluster, plant, device, kind] = parts as [string, string, string, string, string, string]
  if (kind !== 'telemetry' && kind !== 'status') return undefined
  if (!ID_PATTERN.test(cluster) || !ID_PATTERN.test(plant) || !ID_PATTERN.test(device)) return undefined
  return { cluster, plant, device, kind }
}

/**
 * The broker's time service (docs/RELIABILITY.md, clock discipline): an agent publishes `{"n":…}` on
 * its own `…/{plant}/{agent}/time` and the broker answers at once on `…/{agent}/time/reply` with
 * `{"n":…,"ts":<estate time>}`. The reply topic has a seventh level, so no gateway may publish on it
 * (parseDeviceTopic refuses it) while the agent may subscribe to it (under its own plant).
 */
export function timeRequestTopic(cluster: string, plant: string, agent: string): string {
  return `${TOPIC_ROOT}/${cluster}/${plant}/${agent}/time`
}

export function timeReplyTopic(cluster: string, plant: string, agent: string): string {
  return `${timeRequestTopic(cluster, plant, agent)}/reply`
}

/** Parses a time request topic; undefined when it is not one or an id is malformed. */
export function parseTimeRequestTopic(
  topic: string,
): { cluster: string; plant: string; agent: string } | undefined {
  if (!topic.endsWith('/time')) return undefined // every publish asks: no split for the rest
  const parts = topic.split('/')
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[5] !== 'time') return undefined
  const [, , cluster, plant, agent] = parts as [string, string, string, string, string, string]
  if (!ID_PATTERN.test(cluster) || !ID_PATTERN.test(plant) || !ID_PATTERN.test(agent)) return undefined
  return { cluster, plant, agent }
}

/**
 * Remote agent configuration (edge-agent README): the estate publishes a signed config, retained,
 * on `…/{plant}/{agent}/config`; only estate identities may publish it (services/broker/acl.ts),
 * and the agent subscribes to its own.
 */
export function agentConfigTopic(cluster: string, plant: string, agent: string): string {
  return `${TOPIC_ROOT}/${cluster}/${plant}/${agent}/config`
}

/** Parses a config topic; undefined when it is not one or an id is malformed. */
export function parseAgentConfigTopic(
  topic: string,
): { cluster: string; plant: string; agent: string } | undefined {
  if (!topic.endsWith('/config')) return undefined
  const parts = topic.split('/')
  if (parts.length !== 6 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[5] !== 'config')
    return undefined
  const [, , cluster, plant, agent] = parts as [string, string, string, string, string, string]
  if (!ID_PATTERN.test(cluster) || !ID_PATTERN.test(plant) || !ID_PATTERN.test(agent)) return undefined
  return { cluster, plant, agent }
}

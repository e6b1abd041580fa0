/**
 * Sparkplug B topic namespace (Eclipse Sparkplug 3.0, docs/SPARKPLUG.md): `spBv1.0/{group}/{type}/{edge
 * node}[/{device}]`, plus the host application's `spBv1.0/STATE/{host id}`. Group, edge node and
 * device ids are whatever the gateway was configured with (Ignition uses spaces and capitals), so they
 * are never used as InfluxDB tags: the site model maps them to our ids (shared/site-model.ts).
 */
export const SPARKPLUG_NAMESPACE = 'spBv1.0'

/** Messages an edge node publishes (the ones ingest reads and the ACL lets a gateway publish). */
export const SPARKPLUG_EDGE_TYPES = ['NBIRTH', 'NDEATH', 'NDATA', 'DBIRTH', 'DDEATH', 'DDATA'] as const
/** Commands a host application sends to an edge node (ingest sends NCMD rebirth requests). */
export const SPARKPLUG_COMMAND_TYPES = ['NCMD', 'DCMD'] as const
export type SparkplugEdgeType = (typeof SPARKPLUG_EDGE_TYPES)[number]
export type SparkplugMessageType = SparkplugEdgeType | (typeof SPARKPLUG_COMMAND_TYPES)[number]

/** A group, edge node or device id: any UTF-8 text without the MQTT level separator or wildcards. */
export const SPARKPLUG_ID_PATTERN = /^[^/+#\p{Cc}]{1,128}$/u

export interface SparkplugTopic {
  group: string
  type: SparkplugMessageType
  edgeNode: string
  /** Present for DBIRTH, DDEATH, DDATA and DCMD only. */
  device?: string | undefined
}

const NODE_TYPES = new Set<string>(['NBIRTH', 'NDEATH', 'NDATA', 'NCMD'])
const DEVICE_TYPES = new Set<string>(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD'])

export function isSparkplugTopic(topic: string): boolean {
  return topic.startsWith(`${SPARKPLUG_NAMESPACE}/`)
}

/** Parses an edge node or command topic; undefined for STATE and for anything malformed. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const parts = topic.split('/')
  if (parts[0] !== SPARKPLUG_NAMESPACE || parts.length < 4 || parts.length > 5) return undefined
  const [, group, type, edgeNode, device] = parts as [string, string, string, string, string | undefined]
  const deviceLevel = device !== undefined
  if (deviceLevel ? !DEVICE_TYPES.has(type) : !NODE_TYPES.has(type)) return undefined
  if (![group, edgeNode, ...(deviceLevel ? [device] : [])].every((p) => SPARKPLUG_ID_PATTERN.test(p)))
    return undefined
  return { group, type: type as SparkplugMessageType, edgeNode, device }
}

export function isEdgeMessage(t: SparkplugTopic): t is SparkplugTopic & { type: SparkplugEdgeType } {
  return (SPARKPLUG_EDGE_TYPES as readonly string[]).includes(t.type)
}

export function sparkplugNcmdTopic(group: string, edgeNode: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/NCMD/${edgeNode}`
}

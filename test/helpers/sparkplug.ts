/** A site model with Sparkplug edge nodes for tests, and Sparkplug B payloads encoded by Eclipse Tahu's codec. */
import { createRequire } from 'node:module'
import { deflateSync } from 'node:zlib'
import { SiteIndex, siteModelSchema } from '../../shared/site-model.js'
import { exampleSite } from './site.js'

interface Codec {
  encodePayload(payload: object): Uint8Array
  decodePayload(bytes: Uint8Array): { metrics?: { name?: string; value?: unknown }[] }
}
export const sparkplugCodec = (
  createRequire(import.meta.url)('sparkplug-payload') as { get(ns: string): Codec }
).get('spBv1.0')

export const GROUP_B = 'Cikarang Plant B'
export const NODE_B = 'Ignition Edge 1'
export const GROUP_C = 'Cikarang Plant C'
export const NODE_C = 'Kepware 1'

/** The example estate plus two edge nodes: one of plant-b (Ignition-style names, W/MWh units), one of plant-c. */
export function sparkplugSite(): SiteIndex {
  const model = exampleSite().model
  return new SiteIndex(
    siteModelSchema.parse({
      ...model,
      sparkplug: [
        {
          group: GROUP_B,
          edge_node: NODE_B,
          plant: 'plant-b',
          devices: [
            {
              device: 'Main Meter',
              to: 'grid-main',
              metrics: {
                'Power/Active': { metric: 'p_kw', unit: 'W' },
                'Energy/Import': { metric: 'e_kwh', unit: 'MWh' },
                Voltage: { metric: 'v_v' },
              },
            },
            {
              device: 'PV Inverter',
              to: 'pv-roof',
              metrics: {
                'AC Power': { metric: 'p_kw', unit: 'kW' },
                'Energy Total': { metric: 'e_kwh', unit: 'Wh' },
              },
            },
            { to: 'boiler-bio', metrics: { 'Boiler/Heat Power': { metric: 'p_kw', unit: 'MW' } } },
          ],
        },
        {
          group: GROUP_C,
          edge_node: NODE_C,
          plant: 'plant-c',
          devices: [{ device: 'Meter', to: 'grid-main', metrics: { P: { metric: 'p_kw', unit: 'W' } } }],
        },
      ],
    }),
  )
}

export interface MetricIn {
  name?: string
  alias?: number
  type?: string
  value: unknown
  timestamp?: number
  isHistorical?: boolean
}

export function encode(payload: { timestamp?: number; seq?: number; metrics: MetricIn[] }): Buffer {
  const metrics = payload.metrics.map((m) => ({ type: 'Double', ...m }))
  return Buffer.from(sparkplugCodec.encodePayload({ ...payload, metrics }))
}

/** The payload as an edge node compresses it (uuid SPBV1.0_COMPRESSED, DEFLATE body). */
export function encodeCompressed(payload: { timestamp?: number; seq?: number; metrics: MetricIn[] }): Buffer {
  return Buffer.from(
    sparkplugCodec.encodePayload({
      uuid: 'SPBV1.0_COMPRESSED',
      body: deflateSync(encode(payload)),
      metrics: [{ name: 'algorithm', type: 'String', value: 'DEFLATE' }],
      ...(payload.seq !== undefined ? { seq: payload.seq } : {}),
    }),
  )
}

export const spTopic = (group: string, type: string, node: string, device?: string) =>
  `spBv1.0/${group}/${type}/${node}${device === undefined ? '' : `/${device}`}`

import { Registry } from 'prom-client'
import { beforeEach, describe, expect, it } from 'vitest'
import { silentLogger } from '../../../shared/logger.js'
import {
  encode,
  encodeCompressed,
  GROUP_B,
  GROUP_C,
  NODE_B,
  NODE_C,
  sparkplugCodec,
  sparkplugSite,
  spTopic,
} from '../../../test/helpers/sparkplug.js'
import { DEFAULT_LIMITS } from '../validate-message.js'
import { SparkplugIngest } from './sparkplug-ingest.js'

const NOW = Date.UTC(2026, 11, 1, 8, 0, 0)
const site = sparkplugSite()
let sp: SparkplugIngest
let sent: { topic: string; payload: Buffer; retain: boolean }[]
let metrics: Registry

beforeEach(() => {
  metrics = new Registry()
  sp = new SparkplugIngest({ site, log: silentLogger(), metrics, limits: DEFAULT_LIMITS })
  sent = []
  sp.setOutbox((topic, payload, o) => sent.push({ topic, payload, retain: o.retain }))
})

const nbirth = (seq = 0, bdSeq = 3) =>
  sp.handle(
    spTopic(GROUP_B, 'NBIRTH', NODE_B),
    encode({
      timestamp: NOW,
      seq,
      metrics: [
        { name: 'bdSeq', type: 'UInt64', value: bdSeq },
        { name: 'Node Control/Rebirth', type: 'Boolean', value: false },
        { name: 'Boiler/Heat Power', alias: 50, value: 0.25 },
      ],
    }),
    NOW,
  )
const dbirth = (seq: number) =>
  sp.handle(
    spTopic(GROUP_B, 'DBIRTH', NODE_B, 'Main Meter'),
    encode({
      timestamp: NOW,
      seq,
      metrics: [
        { name: 'Power/Active', alias: 1, value: 1500 },
        { name: 'Energy/Import', alias: 2, value: 1.25 },
        { name: 'Firmware', alias: 3, type: 'String', value: '4.2' },
      ],
    }),
    NOW,
  )
const ddata = (seq: number, metricsIn: Parameters<typeof encode>[0]['metrics'], timestamp = NOW + 1000) =>
  sp.handle(
    spTopic(GROUP_B, 'DDATA', NODE_B, 'Main Meter'),
    encode({ timestamp, seq, metrics: metricsIn }),
    NOW + 2000,
  )
const ncmds = () => sent.filter((s) => s.topic === spTopic(GROUP_B, 'NCMD', NODE_B))
const statuses = () =>
  sent
    .filter((s) => s.topic.endsWith('/status'))
    .map((s) => [s.topic, JSON.parse(s.payload.toString()).state])
const counter = async (name: string) => (await metrics.getSingleMetric(name)?.get())?.values

describe('Sparkplug B host application', () => {
  it('stores BIRTH and DATA values by alias, converted to our units, at the metrics’ own timestamps', () => {
    const node = nbirth()
    expect(node.points).toEqual([
      expect.objectContaining({
        tags: expect.objectContaining({ plant: 'plant-b', device: 'boiler-bio' }),
        fields: { p_kw: 250, seq: { int: 1 } },
        time: NOW,
      }),
    ])
    const birth = dbirth(1)
    expect(birth.points).toEqual([
      {
        measurement: 'readings',
        tags: { cluster: 'cikarang', plant: 'plant-b', device: 'grid-main', role: 'grid_import' },
        fields: { p_kw: 1.5, e_kwh: 1250, seq: { int: 1 } },
        time: NOW,
      },
    ])
    const data = ddata(2, [
      { alias: 1, value: 2000, timestamp: NOW + 1000 },
      { alias: 2, value: 1.5, timestamp: NOW + 1000 },
      { alias: 1, value: 2100, timestamp: NOW + 1500 },
    ])
    expect(data.deadLetters).toEqual([])
    expect(data.points.map((p) => [p.time, p.fields])).toEqual([
      [NOW + 1000, { p_kw: 2, e_kwh: 1500, seq: { int: 2 } }],
      [NOW + 1500, { p_kw: 2.1, seq: { int: 2 } }],
    ])
    expect(ncmds()).toEqual([])
    expect(statuses()).toEqual([
      ['kawasan/v1/cikarang/plant-b/boiler-bio/status', 'online'],
      ['kawasan/v1/cikarang/plant-b/grid-main/status', 'online'],
    ])
    expect(sent.every((s) => !s.topic.endsWith('/status') || s.retain)).toBe(true)
  })

  it('asks for a rebirth once on a sequence gap, keeps the message’s data, and is content after the new NBIRTH', async () => {
    nbirth()
    dbirth(1)
    const gap = ddata(5, [{ alias: 1, value: 3000 }])
    expect(gap.points.map((p) => p.fields.p_kw)).toEqual([3])
    ddata(9, [{ alias: 1, value: 3100 }]) // a second gap before the rebirth: not asked again
    expect(ncmds()).toHaveLength(1)
    const cmd = sparkplugCodec.decodePayload(ncmds()[0]!.payload)
    expect(cmd.metrics).toEqual([expect.objectContaining({ name: 'Node Control/Rebirth', value: true })])
    expect(await counter('kawasan_ingest_sparkplug_rebirth_requests_total')).toEqual([
      { labels: { reason: 'sequence_gap' }, value: 1 },
    ])
    nbirth(0, 4)
    dbirth(1)
    ddata(2, [{ alias: 1, value: 1 }])
    ddata(3, [{ alias: 1, value: 1 }])
    expect(ncmds()).toHaveLength(1)
  })

  it('wraps seq from 255 to 0 without calling it a gap', () => {
    nbirth(254)
    dbirth(255)
    ddata(0, [{ alias: 1, value: 1 }])
    expect(ncmds()).toEqual([])
  })

  it('dead-letters metrics sent by an unknown alias, keeps their neighbours, and asks for a rebirth', () => {
    nbirth()
    dbirth(1)
    const r = ddata(2, [
      { alias: 1, value: 4000 },
      { alias: 77, value: 1 },
      { alias: 78, value: 2 },
    ])
    expect(r.points.map((p) => p.fields.p_kw)).toEqual([4])
    expect(r.deadLetters).toEqual([
      expect.objectContaining({ reason: 'unknown_alias', count: 2, plant: 'plant-b', device: 'grid-main' }),
    ])
    expect(ncmds()).toHaveLength(1)
  })

  it('stores named DATA from an edge node it has not seen born (ingest restarted) and asks for a rebirth', () => {
    const r = ddata(17, [{ name: 'Power/Active', value: 500 }])
    expect(r.points.map((p) => p.fields.p_kw)).toEqual([0.5])
    expect(ncmds()).toHaveLength(1)
  })

  it('stores historical values with their own timestamps', () => {
    nbirth()
    dbirth(1)
    const hour = 3_600_000
    const r = ddata(2, [
      { alias: 1, value: 900, timestamp: NOW - 2 * hour, isHistorical: true },
      { alias: 1, value: 950, timestamp: NOW - hour, isHistorical: true },
      { alias: 1, value: 1000, timestamp: NOW + 1000 },
    ])
    expect(r.points.map((p) => [p.time, p.fields.p_kw])).toEqual([
      [NOW - 2 * hour, 0.9],
      [NOW - hour, 0.95],
      [NOW + 1000, 1],
    ])
  })

  it('counts and ignores unmapped metrics and devices; refuses non-numbers, implausible values and future times', async () => {
    nbirth()
    dbirth(1)
    const r = ddata(2, [
      { name: 'Firmware', type: 'String', value: '4.3' },
      { name: 'Voltage', type: 'String', value: 'high' },
      { name: 'Power/Active', value: 5e12 },
      { name: 'Energy/Import', value: 2, timestamp: NOW + 3_600_000 },
      { name: 'Power/Active', value: 10 },
    ])
    expect(r.points.map((p) => p.fields)).toEqual([{ p_kw: 0.01, seq: { int: 2 } }])
    expect(r.deadLetters.map((d) => d.reason).sort()).toEqual([
      'bad_value',
      'future_timestamp',
      'implausible_value',
    ])
    const other = sp.handle(
      spTopic(GROUP_B, 'DDATA', NODE_B, 'Weather Station'),
      encode({ timestamp: NOW, seq: 3, metrics: [{ name: 'Wind', value: 3 }] }),
      NOW,
    )
    expect(other).toEqual({ points: [], deadLetters: [] })
    expect(await counter('kawasan_ingest_sparkplug_unmapped_metrics_total')).toEqual([
      { labels: {}, value: 3 },
    ])
  })

  it('marks devices offline on DDEATH and on the NDEATH of the current session only', () => {
    nbirth(0, 7)
    dbirth(1)
    sp.handle(
      spTopic(GROUP_B, 'DDEATH', NODE_B, 'Main Meter'),
      encode({ timestamp: NOW, seq: 2, metrics: [] }),
      NOW,
    )
    expect(statuses().at(-1)).toEqual(['kawasan/v1/cikarang/plant-b/grid-main/status', 'offline'])
    const before = sent.length
    const death = (bdSeq: number) =>
      sp.handle(
        spTopic(GROUP_B, 'NDEATH', NODE_B),
        encode({ metrics: [{ name: 'bdSeq', type: 'UInt64', value: bdSeq }] }),
        NOW,
      )
    death(6) // the will of an older connection, delivered late
    expect(sent.length).toBe(before)
    death(7)
    expect(statuses().slice(-3)).toEqual([
      ['kawasan/v1/cikarang/plant-b/grid-main/status', 'offline'],
      ['kawasan/v1/cikarang/plant-b/pv-roof/status', 'offline'],
      ['kawasan/v1/cikarang/plant-b/boiler-bio/status', 'offline'],
    ])
  })

  it('reads compressed payloads and dead-letters bytes that are not Sparkplug, and edge nodes not in the site model', () => {
    nbirth()
    dbirth(1)
    const c = sp.handle(
      spTopic(GROUP_B, 'DDATA', NODE_B, 'Main Meter'),
      encodeCompressed({ timestamp: NOW, seq: 2, metrics: [{ alias: 1, value: 750 }] }),
      NOW,
    )
    expect(c.points.map((p) => p.fields.p_kw)).toEqual([0.75])
    const junk = sp.handle(spTopic(GROUP_C, 'NDATA', NODE_C), Buffer.from('{"not":"protobuf"}'), NOW)
    expect(junk.deadLetters.map((d) => [d.reason, d.plant])).toEqual([['bad_protobuf', 'plant-c']])
    const stranger = sp.handle(spTopic('Elsewhere', 'NBIRTH', 'Node'), encode({ seq: 0, metrics: [] }), NOW)
    expect(stranger.deadLetters.map((d) => [d.reason, d.plant])).toEqual([['unknown_device', undefined]])
    const state = sp.handle('spBv1.0/STATE/scada-1', Buffer.from('{"online":true}'), NOW)
    expect(state).toEqual({ points: [], deadLetters: [] })
  })
})

/**
 * The delivery promise (docs/DESIGN.md §4): a gateway's QoS 1 message is acknowledged only once InfluxDB
 * holds it. With InfluxDB unreachable no PUBACK arrives and nothing is lost; when InfluxDB comes back
 * the held messages are written and acknowledged. This also guards the aedes hook order (PUBACK
 * after authorizePublish) against a library upgrade that would move it.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { InfluxClient } from '../../shared/influx/influx-client.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints } from '../helpers/influx.js'
import { payload, startStack, type TestStack } from '../helpers/stack.js'
import { TcpProxy } from '../helpers/tcp-proxy.js'

let stack: TestStack
let proxy: TcpProxy
let viaProxy: InfluxClient
beforeAll(async () => {
  const target = new URL(inject('influxUrl'))
  proxy = new TcpProxy(await freePort(), target.hostname, Number(target.port))
  // The stack's database is created first, then ingest is pointed through the (closed) proxy.
  const probe = await startStack()
  const database = probe.influx.database
  await probe.stop()
  viaProxy = new InfluxClient({ url: `http://127.0.0.1:${proxy.port}`, database, timeoutMs: 2000 })
  stack = await startStack({ writer: viaProxy })
})
afterAll(async () => {
  await stack?.stop()
  await proxy?.stop()
})

describe('acknowledge after durable write', () => {
  it('holds PUBACKs while InfluxDB is down and releases them once the data is written', async () => {
    const gw = await stack.connect('gw-plant-c')
    const direct = new InfluxClient({ url: inject('influxUrl'), database: viaProxy.database })
    const T0 = Date.UTC(2026, 5, 1)
    let acked = 0
    const sends = Array.from({ length: 50 }, (_, i) =>
      gw
        .publishAsync(
          telemetryTopic('cikarang', 'plant-c', 'pv-roof'),
          payload(i, [{ ts: T0 + i * 1000, m: { p_kw: i } }]),
          { qos: 1 },
        )
        .then(() => acked++),
    )
    await new Promise((r) => setTimeout(r, 1500))
    expect(acked).toBe(0)
    expect(await countPoints(direct, 'readings', 'p_kw')).toBe(0)
    expect(stack.pipeline.batcher.isHealthy).toBe(false)

    await proxy.start() // InfluxDB reachable again
    await Promise.all(sends)
    expect(acked).toBe(50)
    expect(await countPoints(direct, 'readings', 'p_kw')).toBe(50)
  })
})

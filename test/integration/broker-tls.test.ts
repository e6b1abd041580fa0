/**
 * MQTT over TLS on loopback with certificates from infra/tls/make-certs.sh: server verification
 * against our CA, password login over TLS, client-certificate login (CN = identity), and refusal
 * of clients without a certificate when one is required.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inBrokerIngestParts, stackContext } from '../../services/stack/parts.js'
import { Stack } from '../../shared/lifecycle.js'
import { silentLogger } from '../../shared/logger.js'
import { telemetryTopic } from '../../shared/topics.js'
import { countPoints, freshDatabase } from '../helpers/influx.js'
import { demoPasswords, exampleSite } from '../helpers/site.js'
import { connectClient, payload } from '../helpers/stack.js'

const dir = mkdtempSync(join(tmpdir(), 'kawasan-tls-'))
const file = (name: string) => readFileSync(join(dir, name))
const stacks: Stack[] = []

async function tlsBroker(requireClientCert: boolean) {
  const influx = await freshDatabase('tls')
  const ctx = stackContext(
    {
      influx: { url: influx.baseUrl, database: influx.database },
      ingest: { maxAgeDays: 0 }, // fixtures dated 2026-01-01
      broker: {
        host: '127.0.0.1',
        port: 0,
        tls: {
          port: 0,
          certFile: join(dir, 'broker.pem'),
          keyFile: join(dir, 'broker.key'),
          caFile: join(dir, 'ca.pem'),
          requireClientCert,
        },
      },
    },
    exampleSite(),
    silentLogger(),
  )
  const built = inBrokerIngestParts(ctx)
  const stack = new Stack()
  await stack.start(built.parts, new AbortController().signal)
  stacks.push(stack)
  return { url: built.broker.tlsUrl()!, influx }
}

beforeAll(() => {
  execFileSync('bash', ['infra/tls/make-certs.sh', dir, 'localhost', 'gw-plant-a', 'stranger'], {
    stdio: 'ignore',
  })
})
afterAll(async () => {
  for (const s of stacks) await s.stop()
})

describe('broker over TLS', () => {
  it('accepts a password login over TLS when the client verifies the broker against our CA', async () => {
    const { url, influx } = await tlsBroker(false)
    const gw = await connectClient(url, {
      username: 'gw-plant-a',
      password: demoPasswords()['gw-plant-a'],
      ca: file('ca.pem'),
      rejectUnauthorized: true,
    })
    await gw.publishAsync(
      telemetryTopic('cikarang', 'plant-a', 'pv-roof'),
      payload(1, [{ ts: Date.UTC(2026, 0, 1), m: { p_kw: 3 } }]),
      { qos: 1 },
    )
    expect(await countPoints(influx, 'readings', 'p_kw')).toBe(1)
    gw.end(true)
  })

  it('logs a gateway in by its client certificate, and confines it to its plant', async () => {
    const { url, influx } = await tlsBroker(true)
    const gw = await connectClient(url, {
      ca: file('ca.pem'),
      cert: file('gw-plant-a.pem'),
      key: file('gw-plant-a.key'),
      rejectUnauthorized: true,
    })
    await gw.publishAsync(
      telemetryTopic('cikarang', 'plant-a', 'pv-roof'),
      payload(1, [{ ts: Date.UTC(2026, 0, 1), m: { p_kw: 3 } }]),
      { qos: 1 },
    )
    expect(await countPoints(influx, 'readings', 'p_kw')).toBe(1)
    const closed = new Promise<void>((resolve) => gw.once('close', () => resolve()))
    gw.publish(
      telemetryTopic('cikarang', 'plant-b', 'pv-roof'),
      payload(1, [{ ts: Date.UTC(2026, 0, 1), m: { p_kw: 3 } }]),
      { qos: 1 },
    )
    await closed
  })

  it('refuses a client without a certificate when one is required, and a certificate naming no identity', async () => {
    const { url } = await tlsBroker(true)
    await expect(
      connectClient(url, {
        username: 'gw-plant-a',
        password: demoPasswords()['gw-plant-a'],
        ca: file('ca.pem'),
      }),
    ).rejects.toThrow()
    await expect(
      connectClient(url, { ca: file('ca.pem'), cert: file('stranger.pem'), key: file('stranger.key') }),
    ).rejects.toThrow(/Not authorized|Bad username/i)
  })

  it('is refused by a client that checks the broker against another CA', async () => {
    const { url } = await tlsBroker(false)
    await expect(
      connectClient(url, {
        username: 'gw-plant-a',
        password: 'x',
        ca: file('gw-plant-a.pem'),
        rejectUnauthorized: true,
      }),
    ).rejects.toThrow()
  })
})

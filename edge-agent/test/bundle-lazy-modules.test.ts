/**
 * The shipped bundle loads the transports mqtt.js knows (WebSocket, TLS, a SOCKS proxy) only when
 * a configuration uses them (edge-agent/scripts/bundle.mjs,
 * `lazyModules`): an agent on mqtt:// never loads node's http, https, tls or dns; one on mqtts://,
 * ws:// or behind a SOCKS proxy (MQTTJS_SOCKS_PROXY) still connects, through the real modules.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'
import { Aedes } from 'aedes'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createWebSocketStream, WebSocketServer } from 'ws'
import { checkThroughBundle } from './helpers/bundle-check.js'

/** Listens on a free loopback port; the port. */
function listen(server: Server | HttpServer | TlsServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port))
  })
}

/**
 * A SOCKS5 proxy (RFC 1928: no authentication, CONNECT to an IPv4 address or a name) on loopback
 * that only connects to loopback; counts the connections it relayed.
 */
function socks5Proxy(): { server: Server; relayed: () => number } {
  let relayed = 0
  const server = createServer((client) => {
    client.once('data', (hello) => {
      if (hello[0] !== 5) return client.destroy()
      client.write(Buffer.from([5, 0]))
      client.once('data', (req) => {
        const atyp = req[3]
        let host: string
        let at: number
        if (atyp === 1) {
          host = [...req.subarray(4, 8)].join('.')
          at = 8
        } else if (atyp === 3) {
          host = req.subarray(5, 5 + req[4]!).toString()
          at = 5 + req[4]!
        } else return client.destroy()
        if (host !== '127.0.0.1' && host !== 'localhost') return client.destroy()
        const upstream = connectTcp(req.readUInt16BE(at), '127.0.0.1', () => {
          relayed++
          client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]))
          client.pipe(upstream).pipe(client)
        })
        upstream.on('error', () => client.destroy())
        client.on('error', () => upstream.destroy())
      })
    })
  })
  return { server, relayed: () => relayed }
}

describe('the bundle loads a transport only when the configuration uses it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-bundle-lazy-'))
  const aedes = new Aedes()
  const sockets = new Set<Socket>()
  const plain = createServer((s) => aedes.handle(s))
  const tls = createTlsServer({}, (s) => aedes.handle(s))
  const http = createHttpServer()
  const wss = new WebSocketServer({ server: http })
  wss.on('connection', (ws) => aedes.handle(createWebSocketStream(ws) as unknown as Socket))
  const proxy = socks5Proxy()
  const ports = { plain: 0, tls: 0, ws: 0, socks: 0 }
  for (const s of [plain, tls, http, proxy.server])
    s.on('connection', (c: Socket) => {
      sockets.add(c)
      c.on('close', () => sockets.delete(c))
    })

  beforeAll(async () => {
    execFileSync('bash', ['infra/tls/make-certs.sh', dir, 'localhost'], { stdio: 'ignore' })
    tls.setSecureContext({
      cert: readFileSync(join(dir, 'broker.pem')),
      key: readFileSync(join(dir, 'broker.key')),
    })
    await aedes.listen()
    ports.plain = await listen(plain)
    ports.tls = await listen(tls)
    ports.ws = await listen(http)
    ports.socks = await listen(proxy.server)
    // Records which of node's modules the process loaded, when it exits.
    writeFileSync(
      join(dir, 'record-modules.cjs'),
      `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'modules.txt'))}, process.moduleLoadList.join('\\n')))\n`,
    )
  }, 60_000)
  afterAll(async () => {
    for (const s of sockets) s.destroy()
    wss.close()
    for (const s of [plain, tls, http, proxy.server]) await new Promise((r) => s.close(r))
    await new Promise<void>((r) => aedes.close(() => r()))
    rmSync(dir, { recursive: true, force: true })
  })

  /** `kawasan-agent check` through the bundle with this broker section; the line it prints of the broker. */
  async function check(broker: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
    const config = join(dir, 'agent.yaml')
    writeFileSync(
      config,
      [
        'cluster: c1',
        'plant: p1',
        `broker: ${broker}`,
        `buffer: { dir: "${join(dir, 'buffer')}" }`,
        'devices:',
        '  - { id: sim-1, role: load, driver: simulator }',
        '',
      ].join('\n'),
    )
    const { stdout } = await checkThroughBundle(config, env)
    return stdout.split('\n').find((l) => l.startsWith('broker')) ?? stdout
  }

  it('on mqtt:// loads neither http, https, tls nor dns', async () => {
    const line = await check(`{ url: "mqtt://127.0.0.1:${ports.plain}" }`, {
      NODE_OPTIONS: `--require ${join(dir, 'record-modules.cjs')}`,
    })
    expect(line).toMatch(/^broker\s+OK\s+mqtt:\/\/127\.0\.0\.1:\d+ connected/)
    const loaded = new Set(readFileSync(join(dir, 'modules.txt'), 'utf8').split('\n'))
    expect(loaded.has('NativeModule net')).toBe(true) // the record is of a process that connected
    for (const m of ['http', 'https', 'tls', 'dns']) expect(loaded.has(`NativeModule ${m}`), m).toBe(false)
  })

  it('connects over mqtts:// through the real TLS transport, verifying the broker', async () => {
    const ca = join(dir, 'ca.pem')
    expect(await check(`{ url: "mqtts://localhost:${ports.tls}", tls: { ca: "${ca}" } }`)).toMatch(
      /^broker\s+OK\s+mqtts:\/\/localhost:\d+ connected/,
    )
    // A broker the CA did not sign is still refused: the stand-in hands the options through.
    expect(await check(`{ url: "mqtts://localhost:${ports.tls}" }`)).toMatch(/^broker\s+FAIL.*certificate/)
  })

  it('connects over ws:// through the real WebSocket transport', async () => {
    expect(await check(`{ url: "ws://127.0.0.1:${ports.ws}" }`)).toMatch(
      /^broker\s+OK\s+ws:\/\/127\.0\.0\.1:\d+ connected/,
    )
  })

  it('connects through a SOCKS proxy given in MQTTJS_SOCKS_PROXY', async () => {
    const before = proxy.relayed()
    const line = await check(`{ url: "mqtt://127.0.0.1:${ports.plain}" }`, {
      MQTTJS_SOCKS_PROXY: `socks5://127.0.0.1:${ports.socks}`,
    })
    expect(line).toMatch(/^broker\s+OK/)
    expect(proxy.relayed()).toBe(before + 1)
  })
})

/**
 * Writes over node:http (http-post.ts): what reaches the server, how each answer is classified, and
 * that a kept-alive connection is reused. A real InfluxDB for the happy path and its own refusals;
 * a plain HTTP server where an answer InfluxDB would not give on demand is needed (429, silence).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { countPoints, freshDatabase } from '../../test/helpers/influx.js'
import { BODY_PART_BYTES, InfluxClient, InfluxWriteError, writeBodyParts } from './influx-client.js'

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

/** A local HTTP server answering with `answer`; records each request's URL, headers, body, socket. */
async function server(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen: { url: string; headers: IncomingMessage['headers']; body: string; port: number }[] = []
  const s = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => {
      body += c
    })
    req.on('end', () => {
      seen.push({ url: req.url!, headers: req.headers, body, port: req.socket.remotePort! })
      answer(req, res, body)
    })
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  closers.push(
    () =>
      new Promise<void>((r) => {
        s.closeAllConnections()
        s.close(() => r())
      }),
  )
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen }
}

const failureOf = async (p: Promise<unknown>): Promise<InfluxWriteError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(InfluxWriteError)
  return err as InfluxWriteError
}

describe('InfluxClient.writeLines', () => {
  it('stores lines in a real InfluxDB, and its refusal of a bad line is a split with its message', async () => {
    const db = await freshDatabase('client')
    const t = Date.UTC(2026, 0, 1)
    await db.writeLines([`m,d=a v=1 ${t}000000`, `m,d=é\\ b v=2 ${t}000000`])
    expect(await countPoints(db, 'm', 'v')).toBe(2)
    const err = await failureOf(db.writeLines([`m,d=a v="text" ${t + 1}000000`]))
    expect(err.status).toBe(400)
    expect(err.failure).toEqual({ kind: 'split' })
    expect(err.message).toMatch(/field type conflict/)
  })

  it('posts the lines joined by newlines with the database, precision and credentials, on one reused connection', async () => {
    const s = await server((_req, res) => {
      res.writeHead(204)
      res.end()
    })
    const client = new InfluxClient({
      url: s.url,
      database: 'd b',
      username: 'u',
      password: 'p',
      retentionPolicy: 'rp1',
    })
    await client.writeLines(['a v=1 1', 'a v=2 2'])
    await client.writeLines(['a v=3 3'])
    expect(s.seen.map((r) => r.body)).toEqual(['a v=1 1\na v=2 2', 'a v=3 3'])
    const url = new URL(s.seen[0]!.url, s.url)
    expect(url.pathname).toBe('/write')
    expect(Object.fromEntries(url.searchParams)).toEqual({ db: 'd b', precision: 'ns', rp: 'rp1' })
    expect(s.seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`)
    expect(s.seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength('a v=1 1\na v=2 2')))
    expect(s.seen[1]!.port).toBe(s.seen[0]!.port) // kept alive
  })

  it('classifies 429 with Retry-After, 503, 401 and 404 as InfluxDB says them', async () => {
    const answers = [
      [429, { 'retry-after': '7' }, { kind: 'retry', retryAfterMs: 7000 }],
      [503, {}, { kind: 'retry' }],
      [401, {}, { kind: 'fatal' }],
      [404, {}, { kind: 'fatal' }],
    ] as const
    let n = 0
    const s = await server((_req, res) => {
      const [status, headers] = answers[n++]!
      res.writeHead(status, { ...headers, 'content-type': 'application/json' })
      res.end(`{"error":"status ${status}"}`)
    })
    const client = new InfluxClient({ url: s.url, database: 'd' })
    for (const [status, , failure] of answers) {
      const err = await failureOf(client.writeLines(['a v=1 1']))
      expect(err.status).toBe(status)
      expect(err.failure).toEqual(failure)
      expect(err.message).toContain(`status ${status}`)
    }
  })

  it('gives up on a server that does not answer within timeoutMs, and on a closed port, as retryable', async () => {
    const s = await server(() => undefined) // never answers
    const silent = await failureOf(
      new InfluxClient({ url: s.url, database: 'd', timeoutMs: 300 }).writeLines(['a v=1 1']),
    )
    expect(silent.failure).toEqual({ kind: 'retry' })
    expect(silent.message).toMatch(/unreachable .*ETIMEDOUT/)
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const refused = await failureOf(
      new InfluxClient({ url: `http://127.0.0.1:${port}`, database: 'd' }).writeLines(['a v=1 1']),
    )
    expect(refused.failure).toEqual({ kind: 'retry' })
    expect(refused.message).toMatch(/unreachable .*ECONNREFUSED/)
  })
})

describe('writeBodyParts', () => {
  it('is the chunks joined by a newline, in parts no larger than a part unless one chunk is', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 200 }), // multi-byte UTF-8
      fc.constantFrom('x'.repeat(BODY_PART_BYTES + 5), 'é'.repeat(30_000), 'y'.repeat(21_845)),
    )
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 60_000, max: 70_000 }).map((n) => new Uint8Array(n).fill(65)),
    )
    fc.assert(
      fc.property(fc.array(fc.oneof(text, bytes), { maxLength: 40 }), (chunks) => {
        const { parts, length } = writeBodyParts(chunks)
        const expected: Buffer[] = []
        chunks.forEach((c, i) => {
          if (i > 0) expected.push(Buffer.from('\n'))
          expected.push(typeof c === 'string' ? Buffer.from(c, 'utf8') : Buffer.from(c))
        })
        const body = Buffer.concat(parts)
        expect(body.equals(Buffer.concat(expected))).toBe(true)
        expect(length).toBe(body.length)
        for (const part of parts) {
          if (part.length <= BODY_PART_BYTES) continue
          expect(
            chunks.some((c) => (typeof c === 'string' ? Buffer.byteLength(c) : c.length) === part.length),
          ).toBe(true)
        }
      }),
      {
        numRuns: 300,
        // Two-byte text after 10 KB of a part: room counted in characters, not bytes, cuts it.
        examples: [[['a'.repeat(10_000), 'é'.repeat(30_000)]]],
      },
    )
  })
})

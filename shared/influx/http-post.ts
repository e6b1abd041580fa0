/**
 * One HTTP POST of a text body over node:http(s) with keep-alive connections, for InfluxDB
 * writes. `fetch` (undici) cost the ingest process about a fifth of its CPU per batch: it encodes
 * the body to a Uint8Array, copies it again into a web stream, and builds a Request, a Response and
 * an AbortSignal per write (docs/PERFORMANCE.md); here the body goes to the socket as it is.
 * Idle kept-alive sockets do not hold the process open (Node unrefs them).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { BodyParts } from './influx-client.js'

// An idle socket is closed after 15 s, before a proxy in front of InfluxDB would close it under a write.
const agents = {
  http: new HttpAgent({ keepAlive: true, timeout: 15_000 }),
  https: new HttpsAgent({ keepAlive: true, timeout: 15_000 }),
}

export interface PostResult {
  status: number
  /** The `retry-after` header, if any. */
  retryAfter: string | null
  /** The response body; read only when `readBody` says so (errors), else ''. */
  body: string
}

/**
 * Posts `body`; resolves with the status once the response has ended, rejects on a network
 * failure (the error's `code`, e.g. ECONNREFUSED) or when `timeoutMs` passes first (code ETIMEDOUT).
 */
export function postBody(
  url: URL,
  headers: Record<string, string>,
  body: string | BodyParts,
  timeoutMs: number,
  readBody: (status: number) => boolean,
): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const tls = url.protocol === 'https:'
    const req = (tls ? httpsRequest : httpRequest)(url, {
      method: 'POST',
      agent: tls ? agents.https : agents.http,
      headers: {
        ...headers,
        'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
      },
    })
    const timer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }))
    }, timeoutMs)
    const fail = (err: Error) => {
      clearTimeout(timer)
      reject(err)
    }
    req.once('error', fail)
    req.once('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      const retryAfter = (res.headers['retry-after'] as string | undefined) ?? null
      let text = ''
      if (readBody(status)) {
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => {
          if (text.length < 64 * 1024) text += chunk
        })
      } else res.resume()
      res.once('error', fail)
      res.once('end', () => {
        clearTimeout(timer)
        resolve({ status, retryAfter, body: text })
      })
    })
    if (typeof body === 'string') req.end(body)
    else {
      for (const part of body.parts) req.write(part) // one writev with the headers, once a socket is assigned
      req.end()
    }
  })
}

/**
 * A small TCP fault proxy on loopback (the ToxiProxy role, docs/RELIABILITY.md, How the fault suite injects faults and counts): forwards to a
 * target, and can be stopped (refusing connections) or made to delay every chunk.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'

export class TcpProxy {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  delayMs = 0

  constructor(
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.targetPort, this.targetHost)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      const pipe = (from: Socket, to: Socket) =>
        from.on('data', (chunk) => {
          if (this.delayMs > 0) setTimeout(() => to.write(chunk), this.delayMs)
          else to.write(chunk)
        })
      pipe(client, upstream)
      pipe(upstream, client)
      client.on('end', () => upstream.end())
      upstream.on('end', () => client.end())
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.server = server
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    const server = this.server
    this.server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

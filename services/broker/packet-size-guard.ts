/**
 * Bounds MQTT packets on the raw byte stream, before aedes' parser buffers them. mqtt-packet (used
 * by aedes 1.2) has no size limit: it appends every byte to its buffer list until the remaining
 * length the fixed header claims has arrived, so a CONNECT header claiming 256 MB makes the broker
 * hold whatever the socket sends until the connect timeout. Here the stream is framed as it is read:
 * the fixed header is one type byte and a remaining length of 1 to 4 bytes of 7 bits each
 * [MQTT-2.2.3], and the connection is cut as soon as the length (even half-read) is over the
 * limit. The first packet must be CONNECT [MQTT-3.1.0-1] and has its own, smaller limit.
 */
import type { Duplex } from 'node:stream'

export interface PacketLimits {
  /** Largest remaining length of the first packet (CONNECT: client id, credentials, will). */
  maxConnectBytes: number
  /** Largest remaining length of any later packet (a PUBLISH: topic, message id, payload). */
  maxPacketBytes: number
}

export type StreamViolation =
  | { kind: 'oversize_packet'; reason: string; claimedBytes: number; limit: number }
  | { kind: 'malformed_stream'; reason: string }

const CONNECT = 1

/** Incremental framer: feed it every chunk in order; it returns the first violation it sees. */
export class PacketFramer {
  private state: 'type' | 'length' | 'body' = 'type'
  private packets = 0
  private length = 0
  private multiplier = 1
  private lengthBytes = 0
  private remaining = 0

  constructor(private readonly limits: PacketLimits) {}

  push(chunk: Uint8Array): StreamViolation | undefined {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 'body') {
        const n = Math.min(this.remaining, chunk.length - i)
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.state = 'type'
        continue
      }
      const byte = chunk[i++]!
      if (this.state === 'type') {
        if (this.packets === 0 && byte >> 4 !== CONNECT)
          return { kind: 'malformed_stream', reason: 'first packet is not CONNECT [MQTT-3.1.0-1]' }
        this.state = 'length'
        this.length = 0
        this.multiplier = 1
        this.lengthBytes = 0
        continue
      }
      this.length += (byte & 0x7f) * this.multiplier
      this.multiplier *= 128
      this.lengthBytes++
      const limit = this.packets === 0 ? this.limits.maxConnectBytes : this.limits.maxPacketBytes
      if (this.length > limit)
        return {
          kind: 'oversize_packet',
          reason: `${this.packets === 0 ? 'CONNECT' : 'packet'} claims at least ${this.length} bytes (limit ${limit})`,
          claimedBytes: this.length,
          limit,
        }
      if (byte & 0x80) {
        if (this.lengthBytes === 4)
          return { kind: 'malformed_stream', reason: 'remaining length longer than 4 bytes [MQTT-2.2.3]' }
        continue
      }
      this.packets++
      this.remaining = this.length
      this.state = this.remaining > 0 ? 'body' : 'type'
    }
    return undefined
  }
}

/**
 * Frames everything aedes reads from `socket` (aedes 1.2 pulls with `conn.read()` on 'readable',
 * lib/client.js) and destroys the socket on the first violation, before the chunk reaches the
 * parser. Until aedes reads, the socket holds at most its high-water mark and TCP flow control
 * stops the sender.
 */
export function guardSocket(
  socket: Duplex,
  limits: PacketLimits,
  onViolation: (violation: StreamViolation) => void,
): void {
  const framer = new PacketFramer(limits)
  const read = socket.read.bind(socket)
  socket.read = (size?: number) => {
    const chunk: unknown = read(size)
    if (chunk === null || !(chunk instanceof Uint8Array)) return chunk
    const violation = framer.push(chunk)
    if (!violation) return chunk
    onViolation(violation)
    socket.destroy()
    return null
  }
}

import { describe, expect, it } from 'vitest'
import { PacketFramer } from './packet-size-guard.js'

const limits = { maxConnectBytes: 100, maxPacketBytes: 1000 }
const connect = (len: number) => Buffer.concat([Buffer.from([0x10, len]), Buffer.alloc(len)])

describe('packet framer', () => {
  it('passes a CONNECT and packets within the limits, whatever the chunking', () => {
    const publish = Buffer.concat([Buffer.from([0x32, 0xe8, 0x07]), Buffer.alloc(1000)]) // 1000 bytes
    const stream = Buffer.concat([connect(50), publish, Buffer.from([0xc0, 0x00]), publish])
    for (const size of [1, 2, 7, stream.length]) {
      const framer = new PacketFramer(limits)
      for (let i = 0; i < stream.length; i += size)
        expect(framer.push(stream.subarray(i, i + size))).toBeUndefined()
    }
  })

  it('cuts a CONNECT claiming 256 MB on its length bytes, before the body', () => {
    const framer = new PacketFramer(limits)
    const v = framer.push(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]))
    expect(v).toMatchObject({ kind: 'oversize_packet', limit: 100 })
  })

  it('cuts a later packet over maxPacketBytes even when its length arrives byte by byte', () => {
    const framer = new PacketFramer(limits)
    expect(framer.push(connect(10))).toBeUndefined()
    expect(framer.push(Buffer.from([0x30]))).toBeUndefined()
    expect(framer.push(Buffer.from([0xe9]))).toBeUndefined() // 105 so far
    expect(framer.push(Buffer.from([0x07]))).toMatchObject({ kind: 'oversize_packet', claimedBytes: 1001 })
  })

  it('refuses a first packet that is not CONNECT and a remaining length of 5 bytes', () => {
    expect(new PacketFramer(limits).push(Buffer.from([0x30, 0x00]))).toMatchObject({
      kind: 'malformed_stream',
    })
    const framer = new PacketFramer({ maxConnectBytes: 100, maxPacketBytes: 2 ** 30 })
    framer.push(connect(2))
    expect(framer.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toMatchObject({
      kind: 'malformed_stream',
    })
  })
})

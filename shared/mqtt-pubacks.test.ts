/**
 * Subscriber mode and the broker write PUBACKs themselves, many in one buffer: the bytes must be
 * what mqtt-packet (the codec of mqtt.js and aedes) makes of each PUBACK and reads back, for every
 * packet identifier and both protocol versions spoken (3.1.1, and 5 with a shared group).
 */
import mqttPacket, { type IPubackPacket, type Packet } from 'mqtt-packet'
import { describe, expect, it } from 'vitest'
import { encodePubacks } from './mqtt-pubacks.js'

const ALL_IDS = Array.from({ length: 65_535 }, (_, i) => i + 1)

function parsed(bytes: Buffer, protocolVersion: 4 | 5): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion })
  const out: Packet[] = []
  parser.on('packet', (p) => out.push(p))
  parser.on('error', (err) => {
    throw err
  })
  parser.parse(bytes)
  return out
}

describe('encodePubacks', () => {
  for (const protocolVersion of [4, 5] as const) {
    it(`is mqtt-packet's PUBACK for every packet identifier, MQTT ${protocolVersion === 4 ? '3.1.1' : '5'}`, () => {
      const ours = encodePubacks(ALL_IDS, 0, ALL_IDS.length)
      const theirs = Buffer.concat(
        ALL_IDS.map((messageId) =>
          mqttPacket.generate({ cmd: 'puback', messageId, reasonCode: 0 } as IPubackPacket, {
            protocolVersion,
          }),
        ),
      )
      expect(ours.equals(theirs)).toBe(true)
      const back = parsed(ours, protocolVersion)
      expect(back.map((p) => p.cmd === 'puback' && (p as IPubackPacket).messageId)).toEqual(ALL_IDS)
      expect(back.every((p) => ((p as IPubackPacket).reasonCode ?? 0) === 0)).toBe(true)
    })
  }

  it('encodes only the range asked for, in order', () => {
    const ids = [7, 65_535, 256, 1, 300]
    const bytes = encodePubacks(ids, 1, 4)
    expect(parsed(bytes, 4).map((p) => (p as IPubackPacket).messageId)).toEqual([65_535, 256, 1])
  })
})

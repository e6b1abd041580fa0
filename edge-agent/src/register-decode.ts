/**
 * Decoding Modbus register words into numbers, as data-driven register maps describe them. Modbus
 * itself only defines 16-bit big-endian registers (Modbus Application Protocol v1.1b3 §4.2); how a
 * device spreads a 32/64-bit value over several registers varies, hence the word order.
 */
export const REGISTER_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'int64',
  'uint64',
  'float64',
] as const
export type RegisterType = (typeof REGISTER_TYPES)[number]

/**
 * ABCD: big-endian words, high word first (Modbus convention, "big"). CDAB: low word first
 * ("little", word swap: Eastron clones, many PLCs). BADC / DCBA: bytes swapped inside each word.
 */
export const WORD_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const
export type WordOrder = (typeof WORD_ORDERS)[number]

export function registerCount(type: RegisterType): number {
  if (type === 'int16' || type === 'uint16') return 1
  if (type === 'int64' || type === 'uint64' || type === 'float64') return 4
  return 2
}

/** Decodes `words` (16-bit register values as the Modbus client returns them) into a number. */
export function decodeRegisters(
  words: readonly number[],
  type: RegisterType,
  order: WordOrder = 'ABCD',
): number {
  const n = registerCount(type)
  if (words.length < n) throw new RangeError(`${type} needs ${n} registers, got ${words.length}`)
  const ordered = words.slice(0, n)
  if (n > 1 && (order === 'CDAB' || order === 'DCBA')) ordered.reverse()
  const buf = Buffer.alloc(n * 2)
  ordered.forEach((w, i) => {
    buf.writeUInt16BE(w & 0xffff, i * 2)
  })
  if (order === 'BADC' || order === 'DCBA') buf.swap16()
  switch (type) {
    case 'int16':
      return buf.readInt16BE(0)
    case 'uint16':
      return buf.readUInt16BE(0)
    case 'int32':
      return buf.readInt32BE(0)
    case 'uint32':
      return buf.readUInt32BE(0)
    case 'float32':
      return buf.readFloatBE(0)
    case 'int64':
      return Number(buf.readBigInt64BE(0))
    case 'uint64':
      return Number(buf.readBigUInt64BE(0))
    case 'float64':
      return buf.readDoubleBE(0)
  }
}

/** The inverse of decodeRegisters, for device simulators in tests and the bench. */
export function encodeRegisters(value: number, type: RegisterType, order: WordOrder = 'ABCD'): number[] {
  const n = registerCount(type)
  const buf = Buffer.alloc(n * 2)
  switch (type) {
    case 'int16':
      buf.writeInt16BE(value)
      break
    case 'uint16':
      buf.writeUInt16BE(value)
      break
    case 'int32':
      buf.writeInt32BE(value)
      break
    case 'uint32':
      buf.writeUInt32BE(value)
      break
    case 'float32':
      buf.writeFloatBE(value)
      break
    case 'int64':
      buf.writeBigInt64BE(BigInt(Math.trunc(value)))
      break
    case 'uint64':
      buf.writeBigUInt64BE(BigInt(Math.trunc(value)))
      break
    case 'float64':
      buf.writeDoubleBE(value)
      break
  }
  if (order === 'BADC' || order === 'DCBA') buf.swap16()
  const words: number[] = []
  for (let i = 0; i < n; i++) words.push(buf.readUInt16BE(i * 2))
  if (n > 1 && (order === 'CDAB' || order === 'DCBA')) words.reverse()
  return words
}

import { describe, expect, it } from 'vitest'
import { hashPassword, verifyPassword } from './password-hash.js'

describe('password hashes', () => {
  it('verifies the right password and refuses others, with a fresh salt every time', async () => {
    const a = await hashPassword('s3cret')
    const b = await hashPassword('s3cret')
    expect(a).not.toBe(b)
    expect(a.startsWith('scrypt$16384$8$1$')).toBe(true)
    expect(await verifyPassword('s3cret', a)).toBe(true)
    expect(await verifyPassword('s3cret!', a)).toBe(false)
    expect(await verifyPassword('s3cret', 'plain')).toBe(false)
  })
})

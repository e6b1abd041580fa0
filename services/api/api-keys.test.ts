/**
 * The key file is shared: `kawasan api-key create` writes it and the running API reads it. A key
 * is usable as soon as the command has printed it, as the README's scheduler example uses it, even
 * when the API looked at the file a moment before (it looks at most every 2 s otherwise).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiKeyStore } from './api-keys.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function keyFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kawasan-api-keys-'))
  dirs.push(dir)
  return join(dir, 'api-keys.yaml')
}

describe('API keys created by another process', () => {
  it('are accepted by the running API at once', async () => {
    const file = keyFile()
    const now = () => 1_800_000_000_000 // no time passes: the API looked at the file just now
    const api = new ApiKeyStore(file, now)
    await api.create({ scope: 'read', id: 'dashboard' })
    const cli = new ApiKeyStore(file, now)
    const { key } = await cli.create({ scope: 'read', id: 'scheduler' })
    expect(await api.verify(key)).toEqual({ id: 'scheduler', scope: 'read', tenant: undefined })
  })

  it('once revoked by another process, are refused when the API next looks at the file', async () => {
    const file = keyFile()
    let t = 1_800_000_000_000
    const api = new ApiKeyStore(file, () => t)
    const { key } = await api.create({ scope: 'read', id: 'scheduler' })
    expect(await api.verify(key)).toBeDefined()
    new ApiKeyStore(file, () => t).revoke('scheduler')
    t += 2000
    expect(await api.verify(key)).toBeUndefined()
  })
})

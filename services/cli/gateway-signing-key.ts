/**
 * The estate's Ed25519 key that signs agent configs (edge-agent/src/remote-config.ts). It lives in
 * the data dir, created on first use with mode 0600; only its public half is ever printed.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { privateKeyFromPem } from '../../edge-agent/src/remote-config.js'

export function signingKeyPath(dataDir: string): string {
  return join(dataDir, 'agent-config-signing.key')
}

/** The signing key, created when missing ('wx': two first uses never overwrite each other's). */
export function estateSigningKey(dataDir: string): KeyObject {
  const file = signingKeyPath(dataDir)
  try {
    return privateKeyFromPem(readFileSync(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const { privateKey } = generateKeyPairSync('ed25519')
  mkdirSync(dataDir, { recursive: true })
  try {
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    return privateKeyFromPem(readFileSync(file, 'utf8'))
  }
  return privateKey
}

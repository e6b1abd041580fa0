/**
 * The estate's Ed25519 signing key and the signed envelope of an audit export (docs/AUDIT.md).
 * The key lives in the data directory (PKCS#8 PEM, mode 0600), created on first use. What is
 * signed is the canonical JSON of the export's body (object keys sorted at every level, no
 * spaces), so a verifier re-serialises the body it read and checks the same bytes.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { KawasanError } from '../../shared/errors.js'

/** JSON with object keys sorted at every level: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`
}

export const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex')

/** The estate's private key from `file`; a new one is written (0600, never overwritten) when there is none. */
export function loadOrCreateSigningKey(file: string): KeyObject {
  try {
    return createPrivateKey(readFileSync(file, 'utf8'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const { privateKey } = generateKeyPairSync('ed25519')
  mkdirSync(dirname(file), { recursive: true })
  try {
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' })
  } catch (err) {
    // Another process created it first: use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return createPrivateKey(readFileSync(file, 'utf8'))
    throw err
  }
  return privateKey
}

export interface Signature {
  algorithm: 'Ed25519'
  /** SPKI PEM of the signing key; compare its fingerprint with the estate's published one. */
  public_key: string
  /** SHA-256 of the public key's DER, hex. */
  key_fingerprint: string
  /** SHA-256 of the canonical body, hex. */
  content_sha256: string
  /** Ed25519 over the canonical body, base64. */
  value: string
}

export interface SignedDocument<B> {
  body: B
  signature: Signature
}

/** The file's text: the canonical JSON of the signed document and a newline. */
export const documentText = (doc: SignedDocument<unknown>) => `${canonicalJson(doc)}\n`

export function signDocument<B>(body: B, key: KeyObject): SignedDocument<B> {
  const bytes = Buffer.from(canonicalJson(body))
  const pub = createPublicKey(key)
  return {
    body,
    signature: {
      algorithm: 'Ed25519',
      public_key: pub.export({ type: 'spki', format: 'pem' }).toString(),
      key_fingerprint: createHash('sha256')
        .update(pub.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
      content_sha256: createHash('sha256').update(bytes).digest('hex'),
      value: sign(null, bytes, key).toString('base64'),
    },
  }
}

/**
 * Checks a signed export's text: it parses, its body's digest is the one signed, and the signature
 * verifies with the key it names (and, with `expectedFingerprint`, that key is the estate's).
 * Throws AUDIT_VERIFY_FAILED with the reason; returns the fingerprint.
 */
export function verifyDocument(text: string, expectedFingerprint?: string): { fingerprint: string } {
  const fail = (why: string) => new KawasanError('AUDIT_VERIFY_FAILED', why)
  let doc: SignedDocument<unknown>
  try {
    doc = JSON.parse(text)
  } catch (err) {
    throw fail(`the file is not JSON (${(err as Error).message}): it was changed or is not an audit export`)
  }
  // The file is written in canonical form: any other byte (even spacing) means it was changed.
  if (text !== `${canonicalJson(doc)}\n`)
    throw fail('the file is not in the canonical form it was written in: it was changed after signing')
  const s = doc?.signature
  if (!doc || typeof doc !== 'object' || doc.body === undefined || !s || s.algorithm !== 'Ed25519')
    throw fail('the file has no body and Ed25519 signature: not a signed audit export')
  let pub: KeyObject
  try {
    pub = createPublicKey(String(s.public_key))
  } catch {
    throw fail('the signature names no readable public key')
  }
  const fingerprint = createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
  if (expectedFingerprint !== undefined && fingerprint !== expectedFingerprint)
    throw fail(`signed by key ${fingerprint}, not the estate's key ${expectedFingerprint}`)
  const bytes = Buffer.from(canonicalJson(doc.body))
  const digest = createHash('sha256').update(bytes).digest('hex')
  if (digest !== s.content_sha256)
    throw fail(
      `content digest mismatch: the body hashes to ${digest}, the file says ${String(s.content_sha256)}`,
    )
  if (!verify(null, bytes, pub, Buffer.from(String(s.value), 'base64')))
    throw fail('the Ed25519 signature does not verify: the file was changed after it was signed')
  return { fingerprint }
}

import { describe, expect, it } from 'vitest'
import type { Identity } from '../../shared/site-model.js'
import { canPublish, canSubscribe } from './acl.js'

const gw: Identity = { username: 'gw-a', role: 'gateway', plant: 'plant-a', password_hash: 'scrypt$' }
const ingest: Identity = { username: 'ingest', role: 'ingest', password_hash: 'scrypt$' }

describe('ACL', () => {
  it('lets a gateway publish telemetry and status of its own plant only', () => {
    expect(canPublish(gw, 'c', 'kawasan/v1/c/plant-a/m1/telemetry').allowed).toBe(true)
    expect(canPublish(gw, 'c', 'kawasan/v1/c/plant-a/m1/status').allowed).toBe(true)
    expect(canPublish(gw, 'c', 'kawasan/v1/c/plant-b/m1/telemetry').allowed).toBe(false)
    expect(canPublish(gw, 'c', 'kawasan/v1/x/plant-a/m1/telemetry').allowed).toBe(false)
    expect(canPublish(gw, 'c', 'kawasan/v1/c/plant-a/m1/other').allowed).toBe(false)
  })
  it('never lets ingest publish, and keeps everyone out of $SYS', () => {
    expect(canPublish(ingest, 'c', 'kawasan/v1/c/plant-a/m1/telemetry').allowed).toBe(false)
    expect(canSubscribe(ingest, 'c', 'kawasan/v1/c/+/+/telemetry').allowed).toBe(true)
    expect(canSubscribe(ingest, 'c', '$SYS/#').allowed).toBe(false)
    expect(canSubscribe(ingest, 'c', '#').allowed).toBe(false)
    expect(canSubscribe(gw, 'c', 'kawasan/v1/c/plant-a/#').allowed).toBe(true)
    expect(canSubscribe(gw, 'c', 'kawasan/v1/c/+/m1/telemetry').allowed).toBe(false)
  })
})

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

  it('lets only the estate (ingest) publish agent configs; a gateway reads its own plant only', () => {
    const observer: Identity = { username: 'obs', role: 'observer', password_hash: 'scrypt$' }
    expect(canPublish(ingest, 'c', 'kawasan/v1/c/plant-a/agent/config').allowed).toBe(true)
    expect(canPublish(ingest, 'c', 'kawasan/v1/x/plant-a/agent/config').allowed).toBe(false)
    expect(canPublish(gw, 'c', 'kawasan/v1/c/plant-a/agent/config')).toMatchObject({
      allowed: false,
      reason: 'only the estate (ingest identity) publishes agent configs',
    })
    expect(canPublish(observer, 'c', 'kawasan/v1/c/plant-a/agent/config').allowed).toBe(false)
    expect(canSubscribe(gw, 'c', 'kawasan/v1/c/plant-a/agent/config').allowed).toBe(true)
    expect(canSubscribe(gw, 'c', 'kawasan/v1/c/plant-b/agent/config').allowed).toBe(false)
  })

  it('lets a gateway publish Sparkplug edge node messages only for edge nodes of its plant', () => {
    const plantOf = (group: string, node: string) =>
      group === 'G' && node === 'N1' ? 'plant-a' : group === 'G' && node === 'N2' ? 'plant-b' : undefined
    const pub = (topic: string) => canPublish(gw, 'c', topic, plantOf).allowed
    expect(pub('spBv1.0/G/NBIRTH/N1')).toBe(true)
    expect(pub('spBv1.0/G/DDATA/N1/Meter 1')).toBe(true)
    expect(pub('spBv1.0/G/NDEATH/N1')).toBe(true)
    expect(pub('spBv1.0/G/NBIRTH/N2')).toBe(false) // another plant's edge node
    expect(pub('spBv1.0/G/NDATA/N3')).toBe(false) // not in the site model
    expect(pub('spBv1.0/G/NCMD/N1')).toBe(false) // commands are the host's
    expect(pub('spBv1.0/STATE/host')).toBe(false)
    expect(pub('spBv1.0/G/DDATA/N1')).toBe(false) // DDATA needs a device
    expect(canPublish(gw, 'c', 'spBv1.0/G/NBIRTH/N1').allowed).toBe(false) // no mapping given
    expect(canPublish(ingest, 'c', 'spBv1.0/G/NBIRTH/N1', plantOf).allowed).toBe(false)
    const sub = (filter: string) => canSubscribe(gw, 'c', filter, plantOf).allowed
    expect(sub('spBv1.0/G/NCMD/N1/#')).toBe(true)
    expect(sub('spBv1.0/G/DCMD/N1/#')).toBe(true)
    expect(sub('spBv1.0/STATE/+')).toBe(true)
    expect(sub('spBv1.0/G/NCMD/N2/#')).toBe(false)
    expect(sub('spBv1.0/G/NCMD/+/#')).toBe(false)
    expect(sub('spBv1.0/G/NDATA/N1')).toBe(false)
    expect(sub('spBv1.0/#')).toBe(false)
    expect(canSubscribe(ingest, 'c', 'spBv1.0/#').allowed).toBe(true)
  })
})

import { describe, expect, it } from 'vitest'
import { SiteIndex, siteModelSchema } from '../../shared/site-model.js'
import { exampleSite } from '../../test/helpers/site.js'
import { ClientIdRegistry } from './client-id-registry.js'

const site = exampleSite()
const who = (username: string) => site.identity(username)!

describe('client id registry', () => {
  it("reserves each gateway plant's agent and simulator ids, and each username, to their identities", () => {
    const ids = new ClientIdRegistry(site)
    expect(ids.claim('kawasan-cikarang-plant-b', who('gw-plant-a'), true)).toMatchObject({
      ok: false,
      kind: 'client_id_reserved',
    })
    expect(ids.claim('kawasan-cikarang-plant-b-check', who('gw-plant-a'), true).ok).toBe(false)
    expect(ids.claim('sim-cikarang-plant-b', who('gw-plant-a'), true).ok).toBe(false)
    expect(ids.claim('observer', who('gw-plant-a'), true).ok).toBe(false)
    expect(ids.claim('kawasan-cikarang-plant-b', who('gw-plant-b'), true).ok).toBe(true)
    expect(ids.claim('kawasan-cikarang-plant-a', who('gw-plant-a'), true).ok).toBe(true)
  })

  it('gives any other id to its first identity while connected, and keeps it after a clean=false login', () => {
    const ids = new ClientIdRegistry(site)
    const a = ids.claim('dashboard-1', who('observer'), true)
    expect(ids.claim('dashboard-1', who('gw-plant-a'), true)).toMatchObject({ kind: 'client_id_in_use' })
    if (a.ok) a.release()
    expect(ids.ownerOf('dashboard-1')).toBeUndefined()

    const b = ids.claim('dashboard-2', who('observer'), false)
    if (b.ok) b.release()
    expect(ids.claim('dashboard-2', who('gw-plant-a'), false)).toMatchObject({ kind: 'client_id_in_use' })
    expect(ids.claim('dashboard-2', who('observer'), true).ok).toBe(true)
  })

  it('keeps an id owned while a second connection of the same identity still holds it', () => {
    const ids = new ClientIdRegistry(site)
    const first = ids.claim('x-1', who('observer'), true)
    const second = ids.claim('x-1', who('observer'), true) // takeover by the same identity
    if (first.ok) first.release()
    expect(ids.claim('x-1', who('gw-plant-a'), true).ok).toBe(false)
    if (second.ok) second.release()
    expect(ids.claim('x-1', who('gw-plant-a'), true).ok).toBe(true)
  })

  it('confines an identity that declares client_id_prefixes to them', () => {
    const model = structuredClone(site.model)
    model.identities.find((i) => i.username === 'gw-plant-c')!.client_id_prefixes = ['plc-c']
    const ids = new ClientIdRegistry(new SiteIndex(model))
    const c = model.identities.find((i) => i.username === 'gw-plant-c')!
    expect(ids.claim('plc-c-7', c, true).ok).toBe(true)
    expect(ids.claim('other', c, true)).toMatchObject({ kind: 'client_id_not_declared' })
    expect(ids.claim('plc-c', model.identities[0]!, true)).toMatchObject({ kind: 'client_id_reserved' })
  })

  it('refuses a site model in which two identities declare the same client id prefix', () => {
    const model = structuredClone(site.model)
    model.identities[0]!.client_id_prefixes = ['plc']
    model.identities[1]!.client_id_prefixes = ['plc']
    const result = siteModelSchema.safeParse(model)
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.message).toMatch(/already declared by identity gw-plant-a/)
  })

  it('bounds the ids one identity holds: clean ids come back on disconnect, persistent ones stay', () => {
    const ids = new ClientIdRegistry(site, 3)
    const observer = who('observer')
    const a = ids.claim('o-1', observer, true)
    ids.claim('o-2', observer, false)
    ids.claim('o-3', observer, false)
    expect(ids.claim('o-4', observer, true)).toMatchObject({ ok: false, kind: 'client_id_limit' })
    expect(ids.claim('o-2', observer, true).ok).toBe(true) // an id it holds is always usable
    if (a.ok) a.release()
    expect(ids.claim('o-4', observer, true).ok).toBe(true)
    expect(ids.claim('g-1', who('gw-plant-a'), true).ok).toBe(true) // other identities are not affected
  })
})

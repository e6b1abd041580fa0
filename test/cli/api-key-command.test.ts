/**
 * `kawasan api-key` as a scheduler types it: the documented command prints a key, and a
 * running `kawasan api` accepts that key for its tenant only. Real processes, real InfluxDB.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { freePort } from '../../infra/local/free-port.js'
import { type KawasanProcess, runKawasan, startKawasan } from '../helpers/kawasan-process.js'

const dataDir = mkdtempSync(join(tmpdir(), 'kawasan-cli-keys-'))
const env = { KAWASAN_DATA_DIR: dataDir, INFLUX_URL: inject('influxUrl'), INFLUX_DATABASE: 'cli_keys' }
let api: KawasanProcess
let apiUrl = ''

beforeAll(async () => {
  const apiPort = await freePort()
  apiUrl = `http://127.0.0.1:${apiPort}`
  api = await startKawasan('api', { ...env, API_PORT: String(apiPort) }, await freePort())
}, 60_000)

afterAll(async () => {
  await api?.kill('SIGTERM')
  rmSync(dataDir, { recursive: true, force: true })
})

async function plantsSeenWith(key: string): Promise<{ status: number; plants: string[] }> {
  const res = await fetch(`${apiUrl}/api/v1/plants`, { headers: { authorization: `Bearer ${key}` } })
  const body = (await res.json()) as { plants?: { id: string }[] }
  return { status: res.status, plants: (body.plants ?? []).map((p) => p.id).sort() }
}

describe('kawasan api-key create', () => {
  it('prints a read key for one tenant that the running API accepts for that tenant only', async () => {
    const run = await runKawasan(['api-key', 'create', '--scope', 'read', '--tenant', 'nusantara-food'], env)
    expect(run.stderr).toContain('tenant nusantara-food')
    expect(run.code).toBe(0)
    const key = run.stdout.trim()
    expect(key).toMatch(/^kwsn_[a-z0-9]+\.[A-Za-z0-9_-]+$/)
    // The API re-reads the keys file within seconds.
    let seen = await plantsSeenWith(key)
    for (let i = 0; i < 50 && seen.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200))
      seen = await plantsSeenWith(key)
    }
    expect(seen).toEqual({ status: 200, plants: ['plant-b'] })
    const other = await fetch(`${apiUrl}/api/v1/plants/plant-a`, {
      headers: { authorization: `Bearer ${key}` },
    })
    expect(other.status).toBe(404)
  })

  it('takes --scope=read and --scope read alike, and an estate-wide key sees every plant', async () => {
    const run = await runKawasan(['api-key', 'create', '--scope=read', '--label', 'wall display'], env)
    expect(run.code).toBe(0)
    let seen = await plantsSeenWith(run.stdout.trim())
    for (let i = 0; i < 50 && seen.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200))
      seen = await plantsSeenWith(run.stdout.trim())
    }
    expect(seen.plants).toEqual(['plant-a', 'plant-b', 'plant-c', 'plant-d'])
    const list = await runKawasan(['api-key', 'list'], env)
    expect(list.stdout).toContain('wall display')
  })

  it("prints an editor key for one tenant that the running API lets enter that tenant's data only; list and revoke it", async () => {
    const run = await runKawasan(
      [
        'api-key',
        'create',
        '--scope',
        'editor',
        '--tenant',
        'sinar-baja',
        '--id',
        'sb-energy',
        '--label',
        'energy team',
      ],
      env,
    )
    expect(run.code, run.stderr).toBe(0)
    expect(run.stderr).toContain('created key sb-energy (scope editor, tenant sinar-baja)')
    const key = run.stdout.trim()
    expect(key).toMatch(/^kwsn_sb-energy\.[A-Za-z0-9_-]+$/)
    let seen = await plantsSeenWith(key)
    for (let i = 0; i < 50 && seen.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 200))
      seen = await plantsSeenWith(key)
    }
    expect(seen).toEqual({ status: 200, plants: ['plant-a'] })
    const enter = (plant: string) =>
      fetch(`${apiUrl}/api/v1/production`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ entries: [{ plant, date: '2026-02-01', quantity: 10, unit: 't' }] }),
      })
    expect((await enter('plant-a')).status).toBe(201)
    const foreign = await enter('plant-b')
    expect(foreign.status).toBe(403)
    expect(((await foreign.json()) as { code: string }).code).toBe('PLANT_FORBIDDEN')

    const list = await runKawasan(['api-key', 'list'], env)
    expect(list.stdout).toMatch(/^sb-energy\teditor\tsinar-baja\t.*\tenergy team$/m)
    const revoke = await runKawasan(['api-key', 'revoke', 'sb-energy'], env)
    expect(revoke.code).toBe(0)
    let status = (await enter('plant-a')).status
    for (let i = 0; i < 50 && status !== 401; i++) {
      await new Promise((r) => setTimeout(r, 200))
      status = (await enter('plant-a')).status
    }
    expect(status).toBe(401)
  })

  it.each([
    [['api-key', 'create'], '--scope must be read, editor or admin'],
    [['api-key', 'create', '--scope', 'write'], '--scope must be read, editor or admin'],
    [['api-key', 'create', '--scope', 'editor'], "an editor key enters one tenant's data: give --tenant"],
    [['api-key', 'create', '--scope', 'editor', '--tenant', 'nobody'], 'unknown tenant "nobody"'],
    [['api-key', 'create', '--scope', 'read', '--tenant', 'nobody'], 'unknown tenant "nobody"'],
    [['api-key', 'create', '--scope', 'admin', '--tenant', 'gas-energi'], 'cannot be limited to a tenant'],
    [['api-key', 'create', '--scope', 'read', '--scoop', 'read'], "Unknown option '--scoop'"],
    [['api-key', 'list', '--scope', 'read'], '--scope is an option of `api-key create`'],
    [['api-key', 'rotate'], 'unknown action "rotate"'],
  ])('refuses %j with a reason and exit code 2', async (args, reason) => {
    const run = await runKawasan(args, env)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(reason)
    expect(run.stdout).toBe('')
    expect(run.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })
})

describe('kawasan --help', () => {
  it('prints each command its usage', async () => {
    const run = await runKawasan(['api-key', '--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('kawasan api-key create --scope read|editor|admin')
    const top = await runKawasan(['--help'])
    expect(top.stdout).toContain('rollup')
    const unknown = await runKawasan(['strat'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command "strat"')
  })
})

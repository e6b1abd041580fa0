import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../shared/logger.js'
import { buildOpsServer, OpsRegistry } from '../../shared/ops-server.js'
import { exampleSite } from '../../test/helpers/site.js'
import { KawasanBroker } from './app.js'

describe('broker metrics on /metrics', () => {
  it('exports every refusal kind from the start, and process metrics without a doubled prefix', async () => {
    const ops = new OpsRegistry()
    const broker = new KawasanBroker({ site: exampleSite(), log: silentLogger(), metrics: ops.metrics })
    const app = buildOpsServer(ops, 'broker')
    const body = (await app.inject({ method: 'GET', url: '/metrics' })).body
    await app.close()
    await new Promise<void>((resolve) => broker.aedes.close(() => resolve()))
    for (const kind of [
      'client_id_reserved',
      'login_blocked',
      'oversize_packet',
      'protocol_refused',
      'status_refused',
    ])
      expect(body).toContain(`kawasan_broker_refusals_total{kind="${kind}"} 0`)
    expect(body).toMatch(/^kawasan_process_cpu_user_seconds_total /m)
    expect(body).toMatch(/^kawasan_nodejs_heap_size_used_bytes /m)
    expect(body).not.toContain('kawasan_process_process_')
  })
})

/**
 * `npm run bench:agent -- --only spool`, as edge-agent/README.md names it, on a small backlog: the
 * buffer alone drains every sample of it, twice per process, and reports what the README says.
 * (What it measures is a benchmark's business; this only proves the command works.)
 */
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'

describe('bench:agent --only spool', () => {
  it('drains the whole backlog through the buffer alone, twice in each process, and says so in JSON', () => {
    const run = spawnSync(
      'npm',
      ['run', '--silent', 'bench:agent', '--', '--only', 'spool', '--backlog', '4000', '--repeat', '2'],
      { encoding: 'utf8', timeout: 120_000 },
    )
    expect(run.status, run.stderr).toBe(0)
    const result = JSON.parse(run.stdout) as {
      spool_alone: {
        backlog_samples: number
        processes: number
        first_drain: { cpu_us_per_sample: number }
        second_drain: { cpu_us_per_sample: number }
        runs: { samples: number; main_thread_cpu_us_per_sample: number }[][]
      }
      backlog_drain?: unknown
      steady_state?: unknown
    }
    const spool = result.spool_alone
    expect(spool.backlog_samples).toBe(4000)
    expect(spool.processes).toBe(2)
    expect(spool.runs).toHaveLength(2)
    for (const drains of spool.runs) expect(drains.map((d) => d.samples)).toEqual([4000, 4000])
    expect(spool.first_drain.cpu_us_per_sample).toBeGreaterThan(0)
    expect(result.backlog_drain).toBeUndefined()
    expect(result.steady_state).toBeUndefined()
  })
})

/**
 * How much of the machine's CPU time the hypervisor gave to other guests ("steal", /proc/stat)
 * while a benchmark ran. On a shared VM the same code measured 1.4–1.9× apart from run to run
 * (docs/PERFORMANCE.md); a run with steal was measured on a machine shared at that moment, and
 * says so in its figures.
 */
import { readFileSync } from 'node:fs'

interface Ticks {
  total: number
  steal: number
}

/** The ticks of /proc/stat's first line (all CPUs): `cpu user nice system idle iowait irq softirq
 * steal [guest guest_nice]`, the guest columns being counted within user already. */
export function cpuTicks(line: string): Ticks | undefined {
  const [name, ...rest] = line.trim().split(/\s+/)
  const f = rest.slice(0, 8).map(Number)
  if (name !== 'cpu' || f.length < 8 || f.some((v) => !Number.isInteger(v) || v < 0)) return undefined
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] as number }
}

/** All CPUs' ticks so far, and their steal; undefined where /proc/stat is not there. */
function machineTicks(): Ticks | undefined {
  try {
    return cpuTicks(readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '')
  } catch {
    return undefined
  }
}

/** Starts counting; the function returned answers the steal since then, in % of the machine's CPU
 * time (one decimal), or undefined where it cannot be read. */
export function stealSince(): () => number | undefined {
  const start = machineTicks()
  return () => {
    const end = machineTicks()
    if (!start || !end || end.total <= start.total) return undefined
    return Math.round(((end.steal - start.steal) / (end.total - start.total)) * 1000) / 10
  }
}

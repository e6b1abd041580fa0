/** Which server processes run on this machine, for tests that must leave none behind. */
import { execFileSync } from 'node:child_process'

/** How many influxd processes have `dir` in their command line (their config lives under it). */
export function influxdUsing(dir: string): number {
  try {
    return execFileSync('pgrep', ['-f', `influxd.*${dir}`], { encoding: 'utf8' })
      .trim()
      .split('\n').length
  } catch {
    return 0 // pgrep exits 1 when nothing matches
  }
}

/** CPU time from Linux's /proc, for the agent benchmarks. */
import { readdirSync, readFileSync } from 'node:fs'

/** Linux's USER_HZ: /proc counts CPU time in ticks of 10 ms. */
export const CLK_TCK = 100

/** User + system CPU ticks in a /proc stat file (a process's, or one of its threads'). */
export function statTicks(file: string): number {
  const stat = readFileSync(file, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return Number(fields[11]) + Number(fields[12])
}

/** CPU ticks of this process's JavaScript thread and of all its threads (/proc/self/task). */
export function ownThreadTicks(): { main: number; all: number } {
  let all = 0
  let main = 0
  for (const task of readdirSync('/proc/self/task')) {
    const ticks = statTicks(`/proc/self/task/${task}/stat`)
    all += ticks
    if (task === String(process.pid)) main = ticks
  }
  return { main, all }
}

/** Clears the fault report before the run and prints the table of cases after it. */
import { existsSync, readFileSync, rmSync } from 'node:fs'

const FILE = 'test-output/faults.jsonl'

export default function setup(): () => void {
  rmSync(FILE, { force: true })
  return () => {
    if (!existsSync(FILE)) return
    const rows = readFileSync(FILE, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string | number>)
    process.stdout.write(
      '\ncase                                              sent  stored  lost  duplicated  seconds\n',
    )
    for (const r of rows) {
      process.stdout.write(
        `${String(r.case).padEnd(48)}${String(r.sent).padStart(6)}${String(r.stored).padStart(8)}${String(r.lost).padStart(6)}${String(r.duplicated).padStart(12)}${String(r.seconds).padStart(9)}\n`,
      )
    }
  }
}

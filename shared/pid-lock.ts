/**
 * Exclusive pid lock files: one owner process at a time for a data directory, with stale locks (their
 * process is gone after kill -9 or a power loss) taken over. Used for the deployment's data directory
 * and for each private InfluxDB's data directory, so two influxd never share one.
 */
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { type ErrorCode, KawasanError } from './errors.js'

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** An exclusive lock file holding the owner's pid; `release()` removes it if still ours. */
export interface PidLock {
  readonly file: string
  /** Adds a child's pid (e.g. influxd): the lock stays held while any of its pids runs. */
  addPid(pid: number): void
  release(): void
}

/**
 * Takes `file` for this process, or throws `code` naming the live owner. A lock left by a process
 * that no longer runs (kill -9, power loss) is taken over.
 */
export function acquirePidLock(file: string, code: ErrorCode, what: string): PidLock {
  mkdirSync(dirname(file), { recursive: true })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx')
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return {
        file,
        addPid(pid) {
          appendFileSync(file, `${pid}\n`)
        },
        release() {
          if (readPids(file)[0] === process.pid) rmSync(file, { force: true })
        },
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const owner = readPids(file).find((pid) => pid !== process.pid && isProcessAlive(pid))
      if (owner !== undefined)
        throw new KawasanError(
          code,
          `${what} is in use by process ${owner} (lock ${file}); stop it first, or use another data directory (KAWASAN_DATA_DIR)`,
        )
      rmSync(file, { force: true }) // stale: its owner is gone
    }
  }
  throw new KawasanError(code, `${what}: could not take the lock ${file}`)
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => Number.parseInt(l.trim(), 10))
      .filter((pid) => Number.isInteger(pid) && pid > 0)
  } catch {
    return []
  }
}

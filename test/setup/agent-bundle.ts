/**
 * vitest global setup: builds the edge agent's bundle (edge-agent/dist, edge-agent/scripts/bundle.mjs)
 * once, before any test file runs. Test files that run the bundle as a gateway does share this
 * build: each building its own, in parallel workers, would empty edge-agent/dist under another
 * file's running agent.
 */
import { execFileSync } from 'node:child_process'

export default function setup(): void {
  // stderr piped, so a failed build says why in the error
  execFileSync(process.execPath, ['edge-agent/scripts/bundle.mjs'], { stdio: ['ignore', 'pipe', 'pipe'] })
}

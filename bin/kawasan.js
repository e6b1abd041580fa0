#!/usr/bin/env node
// Kawasan CLI launcher: runs the TypeScript sources through tsx (no build step needed).
import { register } from 'tsx/esm/api'

register()
await import('../services/cli/main.ts')

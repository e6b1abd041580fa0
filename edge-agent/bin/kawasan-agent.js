#!/usr/bin/env node
// Launcher: the agent ships as TypeScript and runs through tsx's loader, so there is no build step
// on the gateway.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli.ts')

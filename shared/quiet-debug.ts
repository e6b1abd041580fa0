/**
 * Quiet `debug` for the MQTT packages: an import with a side effect, made first by every module
 * that loads aedes or mqtt.js, before they load.
 *
 * mqtt-packet calls its `debug` loggers 28 times for each QoS 1 PUBLISH a broker reads and PUBACK it
 * writes (23 parsing, 5 writing; counted on aedes 1.2, mqtt-packet 9.0.2), and mqtt.js more again,
 * all of them with nothing enabled. debug 4 answers each through its instance's own `enabled`
 * getter, one per instance, so the shared call site never settles: ~50-80 ns a call, ~2.4 µs of
 * the ~13 µs bare aedes spends per message (docs/PERFORMANCE.md, "Twelfth round").
 *
 * So the `debug` module those packages load is replaced, in Node's module cache, by a factory
 * whose loggers return at once while the enabled namespaces are the ones last seen and theirs is
 * not among them. Anything else goes to the real logger: `DEBUG=mqtt-packet:* kawasan …`,
 * `debug.enable()` at run time, and properties set on a logger (`log`, `enabled`) work as before.
 */
import { createRequire } from 'node:module'

type Logger = ((...args: unknown[]) => void) & Record<string, unknown>
type Factory = ((namespace: string) => Logger) & Record<string | symbol, unknown>

const require = createRequire(import.meta.url)
const QUIET = Symbol.for('kawasan.quiet-debug')
/** The packages whose `debug` is replaced: the MQTT parser and client that run per message. */
const PACKAGES = ['mqtt-packet', 'mqtt'] as const

/** Namespaces of the loggers made through a quiet factory in this process (read by its test). */
export const quietNamespaces = new Set<string>()

/** Replaces the `debug` module each of PACKAGES resolves to, once per module; idempotent. */
export function installQuietDebug(): void {
  for (const pkg of PACKAGES) {
    let path: string
    try {
      path = require.resolve('debug', { paths: [require.resolve(pkg)] })
    } catch {
      continue // not installed here (a bundle, or a package left out): nothing to replace
    }
    const real = require(path) as Factory
    if (real[QUIET]) continue
    const cached = require.cache[path]
    if (cached) cached.exports = quietFactory(real)
  }
}

function quietFactory(real: Factory): Factory {
  // `enable()` (and `disable()`, which calls it) is the only way the enabled set changes: each call
  // starts a new generation, and a logger looks at its namespace again once per generation.
  let generation = 0
  const enable = real.enable as (namespaces: string) => void
  real.enable = (namespaces: string) => {
    generation++
    enable.call(real, namespaces)
  }
  const factory = ((namespace: string): Logger => {
    quietNamespaces.add(namespace)
    const inner = real(namespace)
    let seen = -1
    let on = false
    const quiet = function (this: unknown) {
      if (seen === generation && !on) return
      seen = generation
      on = inner.enabled === true
      // biome-ignore lint/complexity/noArguments: forwarded as they came, no array made for the quiet path
      if (on) inner.apply(this, arguments as unknown as unknown[])
    } as Logger
    // `log` is not an own property until someone sets it; a setter looks again at the next call.
    forward(quiet, inner, [...Object.keys(inner), 'log'], () => {
      seen = -1
    })
    return quiet
  }) as Factory
  const itself = ['debug', 'default']
  forward(
    factory,
    real,
    Object.keys(real).filter((k) => !itself.includes(k)),
    () => {},
  )
  for (const key of itself) Object.defineProperty(factory, key, { value: factory, enumerable: true })
  Object.defineProperty(factory, QUIET, { value: true })
  return factory
}

/** Makes `keys` of `to` read and write those of `from`, so that settings reach the real object. */
function forward(
  to: Record<string, unknown>,
  from: Record<string, unknown>,
  keys: readonly string[],
  changed: () => void,
): void {
  for (const key of new Set(keys)) {
    Object.defineProperty(to, key, {
      configurable: true,
      enumerable: true,
      get: () => from[key],
      set: (value: unknown) => {
        from[key] = value
        changed()
      },
    })
  }
}

installQuietDebug()

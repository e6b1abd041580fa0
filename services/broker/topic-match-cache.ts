/**
 * Remembers, per topic, which subscriptions match it, until a subscription changes. aedes matches
 * the topic of every PUBLISH twice: against the subscribers connected to this broker (mqemitter's
 * qlobber) and, for QoS 1, against the stored subscriptions of offline persistent sessions
 * (aedes.js `enqueueOffline` → aedes-persistence `subscriptionsByTopic`, an async call with its own
 * trie). A gateway publishes on the same few topics all day and subscriptions change seldom, so
 * both answers repeat: ~0.6 µs per match measured here, about 5 % of the in-broker path's profile
 * (docs/PERFORMANCE.md, fifth round).
 *
 * Only for the in-process backends aedes 1.2 makes itself (mqemitter 7, aedes-persistence 10): every
 * change to their matchers goes through the methods wrapped here. With Redis, other brokers change
 * the shared state, so nothing is cached. The cache never changes an answer, only drops it; as
 * before, qlobber may answer an exact topic with the array it stores, which it changes in place.
 */

/** Topics remembered at most; beyond that the cache starts over (topics are bounded by the site model). */
export const MAX_CACHED_TOPICS = 10_000

export class TopicMatchCache<T> {
  private matches = new Map<string, T>()

  constructor(private readonly maxTopics = MAX_CACHED_TOPICS) {}

  get(topic: string, match: (topic: string) => T): T {
    let found = this.matches.get(topic)
    if (found === undefined) {
      found = match(topic)
      if (this.matches.size >= this.maxTopics) this.matches = new Map()
      this.matches.set(topic, found)
    }
    return found
  }

  clear(): void {
    if (this.matches.size > 0) this.matches = new Map()
  }

  get size(): number {
    return this.matches.size
  }
}

type Method = (...args: never[]) => unknown

/** Makes each named method of `target` clear the cache before it runs and, if it returns a
 * promise, again when that settles (a change may land after the call returns). */
function clearOnCall(
  target: Record<string, unknown>,
  names: readonly string[],
  cache: TopicMatchCache<unknown>,
) {
  for (const name of names) {
    const original = (target[name] as Method).bind(target)
    target[name] = (...args: never[]) => {
      cache.clear()
      const result = original(...args)
      if (result instanceof Promise) {
        const clear = () => cache.clear()
        result.then(clear, clear)
      }
      return result
    }
  }
}

const hasMethods = (x: unknown, names: readonly string[]): x is Record<string, unknown> =>
  typeof x === 'object' &&
  x !== null &&
  names.every((n) => typeof (x as Record<string, unknown>)[n] === 'function')

const MATCHER_METHODS = ['match', 'add', 'remove', 'clear'] as const
const PERSISTENCE_METHODS = [
  'subscriptionsByTopic',
  'addSubscriptions',
  'removeSubscriptions',
  'cleanSubscriptions',
] as const

/**
 * Caches mqemitter's matches (its `_matcher`, a qlobber changed only through add, remove and
 * clear). False, and nothing changed, when the emitter is not shaped so.
 */
export function cacheEmitterMatches(mq: unknown): boolean {
  const matcher = (mq as { _matcher?: unknown } | null)?._matcher
  if (!hasMethods(matcher, MATCHER_METHODS)) return false
  const cache = new TopicMatchCache<unknown>()
  const match = (matcher.match as Method).bind(matcher) as (topic: string) => unknown
  clearOnCall(matcher, ['add', 'remove', 'clear'], cache)
  matcher.match = (topic: string) => cache.get(topic, match)
  return true
}

/**
 * Caches aedes-persistence's `subscriptionsByTopic` (its trie changes only in add, remove and clean
 * subscriptions of this process). False, and nothing changed, when the store is not shaped so.
 */
export function cacheOfflineSubscriptionMatches(persistence: unknown): boolean {
  if (!hasMethods(persistence, PERSISTENCE_METHODS)) return false
  const cache = new TopicMatchCache<Promise<unknown>>()
  const byTopic = (persistence.subscriptionsByTopic as Method).bind(persistence) as (
    topic: string,
  ) => Promise<unknown>
  clearOnCall(persistence, ['addSubscriptions', 'removeSubscriptions', 'cleanSubscriptions'], cache)
  persistence.subscriptionsByTopic = (topic: string) =>
    cache.get(topic, (t) => {
      const found = byTopic(t)
      found.catch(() => cache.clear()) // a failed lookup is not an answer to remember
      return found
    })
  return true
}

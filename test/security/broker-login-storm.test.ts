/**
 * A gateway's connections log in at once (its start, a broker restart): the password hash is
 * checked once for all of them, and a wrong password shared by concurrent logins is still refused
 * to every one of them and counted against each (docs/SECURITY.md "Login limiter").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { demoPasswords } from '../helpers/site.js'
import { startStack, type TestStack } from '../helpers/stack.js'
import { loginOutcome, refusals } from './broker-fixture.js'

let stack: TestStack
const pw = demoPasswords()

async function passwordChecks(): Promise<number> {
  const metric = stack.metrics.getSingleMetric('kawasan_broker_password_checks_total')
  return (await metric!.get()).values[0]?.value ?? 0
}

const together = (username: string, password: string, n: number) =>
  Promise.all(
    Array.from({ length: n }, (_, i) =>
      loginOutcome(stack.url, { username, password, clientId: `${username}-storm-${i}` }),
    ),
  )

beforeAll(async () => {
  stack = await startStack()
})
afterAll(async () => {
  await stack?.stop()
})

describe('concurrent logins with the same credentials', () => {
  it('accepts them all with one password check, and none for a later login', async () => {
    const before = await passwordChecks()
    const outcomes = await together('gw-plant-a', pw['gw-plant-a']!, 12)
    expect(outcomes).toEqual(Array(12).fill('accepted'))
    expect(await passwordChecks()).toBe(before + 1)
    expect(await loginOutcome(stack.url, { username: 'gw-plant-a', password: pw['gw-plant-a']! })).toBe(
      'accepted',
    )
    expect(await passwordChecks()).toBe(before + 1)
  })

  it('refuses every one of them when the shared password is wrong, each counted', async () => {
    const before = await passwordChecks()
    const refusedBefore = await refusals(stack, 'bad_credentials')
    const outcomes = await together('gw-plant-c', 'not-the-password', 4)
    for (const o of outcomes) expect(o).toMatch(/Bad username or password/i)
    expect(await passwordChecks()).toBe(before + 1)
    expect(await refusals(stack, 'bad_credentials')).toBe(refusedBefore + 4)
    // The right password right after is checked on its own and let in.
    expect(await loginOutcome(stack.url, { username: 'gw-plant-c', password: pw['gw-plant-c']! })).toBe(
      'accepted',
    )
  })
})

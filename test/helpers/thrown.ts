/** Runs `fn` and returns what it threw, so a test can assert the error's `code` (fails when nothing is thrown). */
export async function thrown(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('expected a throw')
}

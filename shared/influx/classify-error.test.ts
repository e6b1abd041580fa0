import { describe, expect, it } from 'vitest'
import { classifyWriteFailure, parseRetryAfter } from './classify-error.js'

describe('classifyWriteFailure', () => {
  it.each([
    [{}, 'retry'],
    [{ status: 500 }, 'retry'],
    [{ status: 502 }, 'retry'],
    [{ status: 503 }, 'retry'],
    [{ status: 429 }, 'retry'],
    [{ status: 400 }, 'split'],
    [{ status: 413 }, 'split'],
    [{ status: 422 }, 'split'],
    [{ status: 401 }, 'fatal'],
    [{ status: 403 }, 'fatal'],
    [{ status: 404 }, 'fatal'],
  ])('classifies %j as %s', (failure, kind) => {
    expect(classifyWriteFailure(failure).kind).toBe(kind)
  })

  it('carries Retry-After of a 429/503 in milliseconds, from seconds or an HTTP date', () => {
    expect(classifyWriteFailure({ status: 429, retryAfter: '5' })).toEqual({
      kind: 'retry',
      retryAfterMs: 5000,
    })
    expect(
      parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')),
    ).toBe(10_000)
    expect(parseRetryAfter('soon')).toBeUndefined()
  })
})

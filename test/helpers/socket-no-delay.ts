/**
 * Whether Nagle's algorithm is off on a socket, as Node records it (the `kSetNoDelay` slot that
 * `setNoDelay` sets; the operating system's TCP_NODELAY is not readable from JavaScript). The same
 * in Node 20, 22 and 24.
 */
export function noDelayOf(socket: unknown): boolean {
  const s = socket as Record<symbol, unknown>
  const slot = Object.getOwnPropertySymbols(s).find((k) => k.description === 'kSetNoDelay')
  if (!slot) throw new Error('this Node keeps no kSetNoDelay slot on its sockets')
  return s[slot] === true
}

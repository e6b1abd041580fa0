/** Turns a listen failure into a coded error a user can act on (which port, which setting). */
import { KawasanError } from '../../shared/errors.js'

export function listenError(
  err: unknown,
  what: string,
  host: string,
  port: number,
  setting: string,
): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (code === 'EADDRINUSE')
    return new KawasanError(
      'ADDRESS_IN_USE',
      `${what}: ${host}:${port} is already in use (another kawasan, or another program); stop it or set ${setting}`,
      { cause: err },
    )
  if (code === 'EACCES')
    return new KawasanError(
      'ADDRESS_IN_USE',
      `${what}: not allowed to listen on ${host}:${port}; set ${setting}`,
      {
        cause: err,
      },
    )
  return err
}

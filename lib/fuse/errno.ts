import { constants } from 'node:os'
import { MeshError } from '../errors.ts'

/**
 * The one place where failures become errno values for the kernel. A MeshError carries its
 * own; anything else is EIO, never ENOENT (a timeout reported as "no such file" misleads cp).
 */
export function toErrno (err: unknown): number {
  if (err instanceof MeshError) return err.errno
  const code = (err as NodeJS.ErrnoException)?.code
  if (typeof code === 'string' && code in constants.errno) return constants.errno[code as keyof typeof constants.errno]
  return constants.errno.EIO
}

import { constants } from 'node:os'

// One error type for the whole filesystem: a string code for programs, an errno for FUSE.
export type ErrorCode =
  | 'NOT_FOUND' | 'EXISTS' | 'NO_SPACE' | 'CORRUPT' | 'UNAVAILABLE' | 'TIMEOUT'
  | 'ABORTED' | 'BAD_SCHEME' | 'BAD_ARGUMENT' | 'PROTOCOL' | 'CLOSED' | 'IO'

const ERRNO: Record<ErrorCode, number> = {
  NOT_FOUND: constants.errno.ENOENT,
  EXISTS: constants.errno.EEXIST,
  NO_SPACE: constants.errno.ENOSPC,
  CORRUPT: constants.errno.EIO,
  UNAVAILABLE: constants.errno.EIO,
  TIMEOUT: constants.errno.ETIMEDOUT,
  ABORTED: constants.errno.EINTR,
  BAD_SCHEME: constants.errno.EINVAL,
  BAD_ARGUMENT: constants.errno.EINVAL,
  PROTOCOL: constants.errno.EPROTO,
  CLOSED: constants.errno.ECONNRESET,
  IO: constants.errno.EIO
}

export class MeshError extends Error {
  readonly code: ErrorCode
  readonly errno: number

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MeshError'
    this.code = code
    this.errno = ERRNO[code]
  }
}

export function isMeshError (err: unknown, code?: ErrorCode): err is MeshError {
  return err instanceof MeshError && (code === undefined || err.code === code)
}

export const errors = {
  notFound: (what: string) => new MeshError('NOT_FOUND', `${what}: not found`),
  exists: (what: string) => new MeshError('EXISTS', `${what}: already exists`),
  noSpace: (what: string) => new MeshError('NO_SPACE', `${what}: no space left`),
  corrupt: (what: string) => new MeshError('CORRUPT', `${what}: corrupt (hash mismatch)`),
  unavailable: (what: string, cause?: unknown) => new MeshError('UNAVAILABLE', `${what}: unavailable`, { cause }),
  timeout: (what: string, ms: number) => new MeshError('TIMEOUT', `${what}: timed out after ${ms} ms`),
  aborted: (what: string) => new MeshError('ABORTED', `${what}: aborted`),
  badScheme: (detail: string) => new MeshError('BAD_SCHEME', `redundancy scheme ${detail}`),
  badArgument: (detail: string) => new MeshError('BAD_ARGUMENT', detail),
  protocol: (detail: string) => new MeshError('PROTOCOL', `protocol error: ${detail}`),
  closed: (what: string) => new MeshError('CLOSED', `${what}: closed`),
  io: (what: string, cause?: unknown) => new MeshError('IO', `${what}: I/O error`, { cause })
}

// Anything that is not already a MeshError is an I/O failure, never "not found".
export function toMeshError (err: unknown, what: string): MeshError {
  if (err instanceof MeshError) return err
  return errors.io(`${what}: ${(err as Error)?.message ?? String(err)}`, err)
}

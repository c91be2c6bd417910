import { constants } from 'node:os'

// One error type for the whole filesystem: a string code for programs, an errno for FUSE.
export type ErrorCode =
  | 'NOT_FOUND' | 'EXISTS' | 'NO_SPACE' | 'CORRUPT' | 'UNAVAILABLE' | 'TIMEOUT'
  | 'ABORTED' | 'BAD_SCHEME' | 'BAD_ARGUMENT' | 'PROTOCOL' | 'CLOSED' | 'IO'
  | 'NOT_EMPTY' | 'IS_DIR' | 'NOT_DIR' | 'NAME_TOO_LONG' | 'INVALID' | 'NOT_PERMITTED' | 'NO_ATTR'
  | 'RANGE' | 'NOT_SUPPORTED'

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
  IO: constants.errno.EIO,
  NOT_EMPTY: constants.errno.ENOTEMPTY,
  IS_DIR: constants.errno.EISDIR,
  NOT_DIR: constants.errno.ENOTDIR,
  NAME_TOO_LONG: constants.errno.ENAMETOOLONG,
  INVALID: constants.errno.EINVAL,
  NOT_PERMITTED: constants.errno.EPERM,
  NO_ATTR: constants.errno.ENODATA,
  RANGE: constants.errno.ERANGE,
  NOT_SUPPORTED: constants.errno.EOPNOTSUPP
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

/**
 * An error that is an answer, not a failure: made without a stack trace (capturing one cost ~15 µs,
 * and a tar -x looks up every name before it creates it).
 */
function answer (code: ErrorCode, message: string): MeshError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new MeshError(code, message)
  } finally {
    Error.stackTraceLimit = limit
  }
}

export const errors = {
  notFound: (what: string) => answer('NOT_FOUND', `${what}: not found`),
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
  io: (what: string, cause?: unknown) => new MeshError('IO', `${what}: I/O error`, { cause }),
  notEmpty: (what: string) => new MeshError('NOT_EMPTY', `${what}: directory not empty`),
  isDir: (what: string) => new MeshError('IS_DIR', `${what}: is a directory`),
  notDir: (what: string) => new MeshError('NOT_DIR', `${what}: not a directory`),
  nameTooLong: (what: string) => new MeshError('NAME_TOO_LONG', `${what}: name too long`),
  invalid: (what: string) => new MeshError('INVALID', `${what}: invalid argument`),
  notPermitted: (what: string) => new MeshError('NOT_PERMITTED', `${what}: operation not permitted`),
  noAttr: (what: string) => answer('NO_ATTR', `${what}: no such attribute`),
  range: (what: string) => new MeshError('RANGE', `${what}: does not fit the caller's buffer`),
  notSupported: (what: string) => new MeshError('NOT_SUPPORTED', `${what}: not supported`)
}

/** A failure of an SQLite write in what (a MeshError as it is): NO_SPACE when the disk is full, else IO. */
export function databaseError (err: unknown, what: string): MeshError {
  if (err instanceof MeshError) return err
  if ((err as { code?: string }).code === 'SQLITE_FULL') return errors.noSpace(what)
  return errors.io(what, err)
}

// Anything that is not already a MeshError is an I/O failure, never "not found".
export function toMeshError (err: unknown, what: string): MeshError {
  if (err instanceof MeshError) return err
  return errors.io(`${what}: ${(err as Error)?.message ?? String(err)}`, err)
}

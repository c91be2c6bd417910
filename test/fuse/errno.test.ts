import { describe, expect, it } from 'vitest'
import { constants } from 'node:os'
import { toErrno } from '../../lib/fuse/errno.ts'
import { errors } from '../../lib/errors.ts'

describe('toErrno', () => {
  it('maps every filesystem error to its errno', () => {
    expect(toErrno(errors.notFound('x'))).toBe(constants.errno.ENOENT)
    expect(toErrno(errors.exists('x'))).toBe(constants.errno.EEXIST)
    expect(toErrno(errors.notEmpty('x'))).toBe(constants.errno.ENOTEMPTY)
    expect(toErrno(errors.isDir('x'))).toBe(constants.errno.EISDIR)
    expect(toErrno(errors.notDir('x'))).toBe(constants.errno.ENOTDIR)
    expect(toErrno(errors.noSpace('x'))).toBe(constants.errno.ENOSPC)
    expect(toErrno(errors.nameTooLong('x'))).toBe(constants.errno.ENAMETOOLONG)
    expect(toErrno(errors.noAttr('x'))).toBe(constants.errno.ENODATA)
    expect(toErrno(errors.unavailable('x'))).toBe(constants.errno.EIO)
  })

  it('keeps a system errno and turns anything unknown into EIO, never ENOENT', () => {
    expect(toErrno(Object.assign(new Error('full'), { code: 'ENOSPC' }))).toBe(constants.errno.ENOSPC)
    expect(toErrno(new Error('weird'))).toBe(constants.errno.EIO)
    expect(toErrno(errors.timeout('peer', 10))).toBe(constants.errno.ETIMEDOUT)
    expect(toErrno(undefined)).toBe(constants.errno.EIO)
  })
})

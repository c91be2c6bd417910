import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { constants } from 'node:fs'
import { link, mkdir, mkdtemp, open, readlink, rename, rm, rmdir, stat, symlink, truncate, unlink, chmod, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, type MountProcess } from './mesh-mount.ts'
import { Syscalls, b64 } from './syscalls.ts'

/** A small fast generator: the same seed gives the same operations on every machine. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Outcome = { ok: true, value: unknown } | { ok: false, code: string }

async function outcome (fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() }
  } catch (err) {
    return { ok: false, code: (err as NodeJS.ErrnoException).code ?? String(err) }
  }
}

const KINDS = ['write', 'write', 'append', 'read', 'truncate', 'ftruncate', 'rename', 'unlink', 'mkdir', 'rmdir',
  'chmod', 'chown', 'utimes', 'create-excl', 'link', 'symlink', 'readlink', 'setxattr', 'getxattr', 'removexattr'] as const
const NAMES = ['a', 'b', 'c', 'd0', 'd1', 'd0/a', 'd0/b', 'd1/a', 'd0/x/a']
const KIB = 1024

/**
 * The randomized model test: the same random operations on the mount and on a local folder,
 * compared after every step (result or errno, then type, mode, owner, nlink, size, content,
 * entries, symlink target and extended attributes of the paths touched). Offsets and sizes
 * cross the mount's 1 MiB chunk edges. Prints its seed; MESHFS_MODEL_SEED replays one.
 */
export function describeModel (label: string, seed: number, ops: number): void {
  describe(`the mount behaves like a local disk: ${label} (seed ${seed}, ${ops} operations)`, () => {
    let mesh: TestMesh
    let mount: MountProcess
    let local: string
    let sys: Syscalls

    beforeAll(async () => {
      mesh = await TestMesh.start({ peers: 3, capacity: '1G' })
      mount = await mesh.mount('mnt', ['--redundancy', 'rs:2+1'])
      local = await mkdtemp(join(tmpdir(), 'meshfs-model-'))
      sys = Syscalls.start()
    }, 120_000)

    afterAll(async () => {
      sys?.stop()
      await mount?.stop()
      await mesh?.stop()
      await rm(local, { recursive: true, force: true })
    }, 60_000)

    it('gives the same results, errors and states as the local disk', async () => {
      console.log(`posix model (${label}): seed ${seed}, ${ops} operations; replay with MESHFS_MODEL_SEED=${seed} MESHFS_MODEL_OPS=${ops}`)
      const rand = prng(seed)
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!
      const steps: string[] = []
      for (let i = 0; i < ops; i++) {
        const p = pick(NAMES)
        const q = pick(NAMES)
        const kind = pick(KINDS)
        const offset = Math.floor(rand() * 2500) * KIB + pick([0, 1, 4095])
        const length = 1 + Math.floor(rand() * 300 * KIB)
        const fill = Math.floor(rand() * 256)
        const mode = pick([0o644, 0o600, 0o755, 0o444, 0o4755, 0o2750])
        const owner = pick([0, 1000, 65534])
        const when = 1_700_000_000 + Math.floor(rand() * 1_000_000)
        const newSize = Math.floor(rand() * 3000) * KIB + pick([0, 1, 777])
        const attr = pick(['user.a', 'user.b', 'user.long.' + 'x'.repeat(100)])
        // Up to 1,000 bytes per value: the three of them fit the one block ext4 gives a file's attributes.
        const attrValue = b64(Buffer.alloc(Math.floor(rand() * 1000), fill))
        const attrFlags = pick([0, 0, 1, 2])
        // Targets stay inside the folder (a link out of it would reach different files on each side).
        const target = pick(['a', 'b', 'd0/a', 'nowhere', 'x'.repeat(Math.floor(rand() * 300))])
        const run = async (root: string): Promise<Outcome> => {
          const P = join(root, p)
          const Q = join(root, q)
          const viaSys = async (op: string, ...args: unknown[]): Promise<Outcome> => {
            const r = await sys.call(op, ...args)
            return 'err' in r ? { ok: false, code: r.err } : { ok: true, value: r.ok }
          }
          switch (kind) {
            case 'write': return outcome(async () => {
              const fh = await open(P, constants.O_WRONLY | constants.O_CREAT, 0o644)
              try { return (await fh.write(Buffer.alloc(length, fill), 0, length, offset)).bytesWritten } finally { await fh.close() }
            })
            case 'append': return outcome(async () => {
              const fh = await open(P, constants.O_WRONLY | constants.O_APPEND)
              try { return (await fh.write(Buffer.alloc(length % 5000 + 1, fill))).bytesWritten } finally { await fh.close() }
            })
            case 'read': return outcome(async () => {
              const fh = await open(P, constants.O_RDONLY)
              try {
                const buf = Buffer.alloc(length)
                const { bytesRead } = await fh.read(buf, 0, length, offset)
                return buf.subarray(0, bytesRead).toString('base64').length + ':' + bytesRead
              } finally { await fh.close() }
            })
            case 'truncate': return outcome(() => truncate(P, newSize))
            case 'ftruncate': return outcome(async () => {
              // Through one handle: write, cut or extend, read across the new end.
              const fh = await open(P, constants.O_RDWR)
              try {
                await fh.write(Buffer.alloc(length % 70_000 + 1, fill), 0, length % 70_000 + 1, offset)
                await fh.truncate(newSize)
                const buf = Buffer.alloc(8192)
                const { bytesRead } = await fh.read(buf, 0, 8192, Math.max(0, newSize - 4096))
                return buf.subarray(0, bytesRead).toString('hex')
              } finally { await fh.close() }
            })
            case 'rename': return outcome(() => rename(P, Q))
            case 'unlink': return outcome(() => unlink(P))
            case 'mkdir': return outcome(() => mkdir(P, { mode: 0o755 }))
            case 'rmdir': return outcome(() => rmdir(P))
            case 'chmod': return outcome(() => chmod(P, mode))
            case 'chown': return viaSys('chown', P, owner, owner)
            case 'utimes': return outcome(async () => {
              await utimes(P, when, when + 0.5) // times set explicitly must read back exactly
              const st = await stat(P, { bigint: true }) // utimes follows symlinks: so does this
              return `${st.atimeNs} ${st.mtimeNs}`
            })
            case 'link': return outcome(() => link(P, Q))
            case 'symlink': return outcome(() => symlink(target, P))
            case 'readlink': return outcome(() => readlink(P))
            case 'create-excl': return outcome(async () => { const fh = await open(P, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640); await fh.close() })
            case 'setxattr': return viaSys('setxattr', P, attr, attrValue, attrFlags)
            case 'getxattr': return viaSys('getxattr', P, attr)
            case 'removexattr': return viaSys('removexattr', P, attr)
          }
        }
        // Every random choice is drawn above: both roots get exactly the same operation.
        const expected = await run(local)
        const got = await run(mount.path)
        steps.push(`${i}: ${kind} ${p}${kind === 'rename' || kind === 'link' ? ' -> ' + q : ''}`)
        const context = steps.slice(-5).join(' | ')
        expect(got, `step ${context}`).toEqual(expected)
        for (const path of new Set([p, q, p.split('/')[0]!, q.split('/')[0]!])) {
          expect(await sys.must('describe', join(mount.path, path)), `state of ${path} after ${context}`)
            .toEqual(await sys.must('describe', join(local, path)))
        }
      }
    }, 1_800_000)
  })
}

// The mount against the local disk (issue 5, first part): the same random operations on both,
// compared after every step: result or errno, then type, size, mode, nlink and content of the
// paths touched (times are compared where set explicitly: the clocks of two writes differ),
// hard links (nlink, shared content) and symlinks (dangling, relative, long targets) included. The seed is printed; MESHFS_MODEL_SEED=N replays a run, MESHFS_MODEL_OPS=N
// sets its length.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { constants } from 'node:fs'
import { lstat, stat, link, mkdir, mkdtemp, open, readFile, readlink, rename, rm, rmdir, symlink, truncate, unlink, chmod, utimes, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, type MountProcess } from '../helpers/mesh-mount.ts'

const SEED = Number(process.env.MESHFS_MODEL_SEED ?? 20261125)
const OPS = Number(process.env.MESHFS_MODEL_OPS ?? 600)

function prng (seed: number): () => number {
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

async function describePath (path: string): Promise<unknown> {
  let st
  try {
    st = await lstat(path)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code
  }
  const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'file'
  const base = { kind, mode: st.mode & 0o7777, nlink: kind === 'dir' ? undefined : st.nlink }
  if (kind === 'dir') return { ...base, entries: (await readdir(path)).sort() }
  if (kind === 'symlink') return { ...base, size: st.size, target: await readlink(path) }
  return { ...base, size: st.size, content: (await readFile(path)).toString('base64').slice(0, 64) + (await readFile(path)).length }
}

describe(`the mount behaves like a local disk (seed ${SEED}, ${OPS} operations)`, () => {
  let mesh: TestMesh
  let mount: MountProcess
  let local: string

  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: 3, capacity: '512M' })
    mount = await mesh.mount('mnt', ['--redundancy', 'rs:2+1'])
    local = await mkdtemp(join(tmpdir(), 'meshfs-model-'))
  }, 120_000)

  afterAll(async () => {
    await mount?.stop()
    await mesh?.stop()
    await rm(local, { recursive: true, force: true })
  }, 60_000)

  it('gives the same results, errors and states as the local disk', async () => {
    console.log(`posix model: seed ${SEED}, ${OPS} operations (replay with MESHFS_MODEL_SEED=${SEED})`)
    const rand = prng(SEED)
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!
    const names = ['a', 'b', 'c', 'd0', 'd1', 'd0/a', 'd0/b', 'd1/a', 'd0/x/a']
    const KIB = 1024
    const steps: string[] = []
    for (let i = 0; i < OPS; i++) {
      const p = pick(names)
      const q = pick(names)
      const kind = pick(['write', 'write', 'append', 'read', 'truncate', 'rename', 'unlink', 'mkdir', 'rmdir', 'chmod', 'utimes', 'create-excl', 'link', 'symlink', 'readlink'])
      const offset = Math.floor(rand() * 2500) * KIB
      const length = 1 + Math.floor(rand() * 300 * KIB)
      const fill = Math.floor(rand() * 256)
      const mode = pick([0o644, 0o600, 0o755, 0o444])
      const when = 1_700_000_000 + Math.floor(rand() * 1_000_000)
      const newSize = Math.floor(rand() * 3000) * KIB
      // Targets stay inside the folder (a link out of it would reach different files on each side).
      const target = pick(['a', 'b', 'd0/a', 'nowhere', 'x'.repeat(Math.floor(rand() * 300))])
      const run = async (root: string): Promise<Outcome> => {
        const P = join(root, p)
        const Q = join(root, q)
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
          case 'rename': return outcome(() => rename(P, Q))
          case 'unlink': return outcome(() => unlink(P))
          case 'mkdir': return outcome(() => mkdir(P, { mode: 0o755 }))
          case 'rmdir': return outcome(() => rmdir(P))
          case 'chmod': return outcome(() => chmod(P, mode))
          case 'utimes': return outcome(async () => {
            await utimes(P, when, when + 0.5) // times set explicitly must read back exactly
            const st = await stat(P, { bigint: true }) // utimes follows symlinks: so does this
            return `${st.atimeNs} ${st.mtimeNs}`
          })
          case 'link': return outcome(() => link(P, Q))
          case 'symlink': return outcome(() => symlink(target, P))
          case 'readlink': return outcome(() => readlink(P))
          case 'create-excl': return outcome(async () => { const fh = await open(P, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o640); await fh.close() })
          default: throw new Error(`unknown operation ${kind}`)
        }
      }
      // Every random choice is drawn above: both roots get exactly the same operation.
      const expected = await run(local)
      const got = await run(mount.path)
      steps.push(`${i}: ${kind} ${p}${kind === 'rename' || kind === 'link' ? ' -> ' + q : ''}`)
      const context = steps.slice(-5).join(' | ')
      expect(got.ok ? got : { ok: false, code: got.code }, `step ${context}`).toEqual(expected.ok ? expected : { ok: false, code: expected.code })
      for (const path of new Set([p, q, p.split('/')[0]!, q.split('/')[0]!])) {
        expect(await describePath(join(mount.path, path)), `state of ${path} after ${context}`).toEqual(await describePath(join(local, path)))
      }
    }
  }, 1_200_000)

  it('keeps a file removed while open readable and writable until the last close', async () => {
    for (const root of [local, mount.path]) {
      const path = join(root, 'held-open')
      const fh = await open(path, 'w+')
      await fh.write(Buffer.from('before unlink\n'))
      await unlink(path)
      await fh.write(Buffer.from('after unlink\n'))
      const buf = Buffer.alloc(100)
      const { bytesRead } = await fh.read(buf, 0, 100, 0)
      expect(buf.subarray(0, bytesRead).toString(), root).toBe('before unlink\nafter unlink\n')
      expect((await fh.stat()).nlink, root).toBe(0)
      await fh.close()
      expect(await readdir(root), root).not.toContain('held-open')
    }
  }, 60_000)
})

// A real FUSE mount of a real Vfs, in this process: what the kernel keeps so that it asks less.
// A listing sends each entry with its attributes (readdirplus), so `ls -l` and du need no lookup
// per entry; a name not there is kept as a negative entry, so probing it again asks nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { Vfs, ROOT, type FileSystemApi } from '../../lib/vfs/vfs.ts'
import { MetaStore } from '../../lib/meta/meta-store.ts'
import { ChunkService } from '../../lib/data/chunk-service.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { FuseMount } from '../../lib/fuse/fuse-mount.ts'
import { forceUnmount } from '../helpers/mesh-mount.ts'
import { LocalShardNetwork } from '../helpers/local-network.ts'

// Async only: a synchronous call into the mount would block the thread that answers it.
const run = promisify(execFile)
const FILES = 60
const me = { uid: 0, gid: 0 }

describe('what the kernel caches of a mount', () => {
  let dir: string
  let network: LocalShardNetwork
  let meta: MetaStore
  let fuse: FuseMount | null = null
  let lookups: string[]

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-readdirplus-'))
    network = await LocalShardNetwork.create({ peers: 5, capacity: 16 * 1024 * 1024 })
    meta = MetaStore.open(join(dir, 'meta.db'))
    const keys = deriveMeshKeys(generateMeshSecret())
    const storage = new ChunkService({ network, contentKey: keys.contentKey, chunkIdKey: keys.chunkIdKey, scheme: parseScheme('rs:3+2') })
    const vfs = new Vfs({ meta, storage, chunkSize: 64 * 1024 })
    const sub = vfs.mkdir(ROOT, Buffer.from('sub'), 0o755, me)
    for (let i = 0; i < FILES; i++) {
      const { fh } = vfs.create(sub.ino, Buffer.from(`file-${i}`), 0o644, me)
      await vfs.write(fh, Buffer.alloc(100 + i, 1), 0)
      await vfs.release(fh)
    }
    await vfs.fsyncdir()
    lookups = []
    // The Vfs as the mount sees it, noting every name looked up (find is the mount's lookup).
    const counted: FileSystemApi = new Proxy(vfs, {
      get (target, key) {
        const value = Reflect.get(target, key) as unknown
        if (typeof value !== 'function') return value
        if (key !== 'lookup' && key !== 'find') return value.bind(target)
        return (parent: number, name: Buffer) => { lookups.push(name.toString()); return target[key](parent as never, name) }
      }
    })
    await mkdir(join(dir, 'mnt'))
    fuse = FuseMount.mount(counted, join(dir, 'mnt'), { cacheSeconds: 30 })
  })

  afterEach(async () => {
    if (fuse && !(await fuse.unmount())) await forceUnmount(join(dir, 'mnt'))
    meta.close()
    await network.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('ls -l and du stat every entry without looking each one up', async () => {
    const { stdout } = await run('ls', ['-ln', join(dir, 'mnt', 'sub')])
    const rows = stdout.trim().split('\n').slice(1) // after "total N"
    expect(rows).toHaveLength(FILES)
    expect(rows.find((r) => r.endsWith(' file-7'))).toMatch(/^-rw-r--r-- 1 0 0 107 /)
    const { stdout: usage } = await run('du', ['-ab', join(dir, 'mnt', 'sub')])
    const sizes = usage.trim().split('\n').map((line) => line.split('\t'))
    expect(sizes).toHaveLength(FILES + 1) // the files and the directory
    expect(sizes.find(([, path]) => path!.endsWith('/file-59'))?.[0]).toBe('159')
    // "sub" itself is looked up; without attributes in the listing each file was too (60 more).
    expect(lookups.filter((n) => n.startsWith('file-'))).toEqual([])
  })

  it('a name that is not there is looked up once, and a create through the mount replaces its negative entry', async () => {
    const missing = join(dir, 'mnt', 'sub', 'not-yet')
    for (let i = 0; i < 3; i++) await expect(run('stat', [missing])).rejects.toThrow(/No such file/)
    expect(lookups.filter((n) => n === 'not-yet')).toHaveLength(1)
    await run('sh', ['-c', `echo hi > '${missing}'`])
    const { stdout } = await run('cat', [missing])
    expect(stdout).toBe('hi\n')
  })
})

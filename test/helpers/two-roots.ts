import { afterAll, beforeAll, expect, it } from 'vitest'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TestMesh, type MountProcess } from './mesh-mount.ts'
import { Syscalls, type Result } from './syscalls.ts'

const MOUNT_ARGS = ['--redundancy', 'rs:2+1', '--allow-other']

/** The unprivileged user the permission cases run as (nobody/nogroup on Debian). */
export const USER = { uid: 65534, gid: 65534 }

export interface CaseContext {
  /** System calls as root, and as the unprivileged USER. */
  root: Syscalls
  user: Syscalls
  /** A path inside this case's own folder (mode 0777, owned by root). */
  p: (rel: string) => string
}

/** A POSIX case: its observations, which must be the same on the local disk and on the mount. */
export type PosixCase = (c: CaseContext) => Promise<Record<string, unknown>>

/** The outcome of a call without its value: 'ok' or the errno name. */
export function e (r: Result): string {
  return 'err' in r ? r.err : 'ok'
}

/**
 * A local folder and a meshfs mount (3 storage peers, rs:2+1, --allow-other so another user can
 * enter it), with system-call servers as root and as USER: every case runs on both.
 */
export class TwoRoots {
  private cases = 0

  private constructor (readonly mesh: TestMesh, public mount: MountProcess, readonly local: string,
    readonly root: Syscalls, readonly user: Syscalls) {}

  static async start (): Promise<TwoRoots> {
    const mesh = await TestMesh.start({ peers: 3, capacity: '1G' })
    let mount: MountProcess
    try {
      // Other users must reach the mount point and the local folder through their parents.
      await chmod(mesh.root, 0o755)
      mount = await mesh.mount('mnt', MOUNT_ARGS)
    } catch (err) {
      await mesh.stop()
      throw err
    }
    const local = await mkdtemp(join(tmpdir(), 'meshfs-posix-'))
    await chmod(local, 0o755)
    return new TwoRoots(mesh, mount, local, Syscalls.start(), Syscalls.start(USER))
  }

  /** Runs one case in a fresh folder on the local disk, then on the mount. */
  async run (fn: PosixCase): Promise<{ local: Record<string, unknown>, mount: Record<string, unknown> }> {
    const name = `case-${++this.cases}`
    const observe = async (base: string): Promise<Record<string, unknown>> => {
      const dir = join(base, name)
      await this.root.must('mkdir', dir, 0o777)
      await this.root.must('chmod', dir, 0o777) // past the umask
      return fn({ root: this.root, user: this.user, p: (rel) => join(dir, rel) })
    }
    return { local: await observe(this.local), mount: await observe(this.mount.path) }
  }

  /** A new mount process on the same store (as after a reboot). */
  async remount (): Promise<void> {
    await this.mount.stop()
    this.mount = await this.mesh.mount('mnt', MOUNT_ARGS)
  }

  async stop (): Promise<void> {
    this.root.stop()
    this.user.stop()
    await this.mount?.stop()
    await this.mesh?.stop()
    await rm(this.local, { recursive: true, force: true })
  }
}

/**
 * Inside a describe(): one TwoRoots for the block, and one test per case, expecting the mount's
 * observations to equal the local disk's (MESHFS_POSIX_SHOW=1 prints them). Returns a getter
 * for tests of the mount alone.
 */
export function compareCases (cases: Record<string, PosixCase>): () => TwoRoots {
  let roots: TwoRoots
  beforeAll(async () => { roots = await TwoRoots.start() }, 120_000)
  afterAll(async () => { await roots?.stop() }, 60_000)
  for (const [name, fn] of Object.entries(cases)) {
    it(name, async () => {
      const { local, mount } = await roots.run(fn)
      if (process.env.MESHFS_POSIX_SHOW) console.log(name, local)
      expect(mount).toEqual(local)
    }, 120_000)
  }
  return () => roots
}

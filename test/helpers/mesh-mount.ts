import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { ChildProcess } from 'node:child_process'
import { isMounted, unmount } from '../../lib/fuse/mountpoint.ts'
import { exited, spawnMeshfs, waitForLine } from './peer-process.ts'
import { PeerGrid } from './peer-grid.ts'
import { startTestnet, type LocalTestnet } from './testnet.ts'
import { formatMeshKey, generateMeshSecret } from '../../crypto/mesh-key.ts'

export const sh = promisify(execFile)

export interface MountOptions {
  key: string
  bootstrap: string[]
  /** The mounting peer's store (metadata database, identity). */
  store: string
  path: string
  args?: string[]
}

/** A `meshfs mount` process: a real FUSE mount that the test drives with ordinary tools. */
export class MountProcess {
  output = ''

  private constructor (readonly opts: MountOptions, readonly process: ChildProcess) {
    process.stdout?.on('data', (chunk: Buffer) => { this.output += chunk.toString() })
    process.stderr?.on('data', (chunk: Buffer) => { this.output += chunk.toString() })
  }

  get path (): string { return this.opts.path }

  static async start (opts: MountOptions): Promise<MountProcess> {
    // A stale mount (ENOTCONN) is left for meshfs itself to clear: that is what is being tested.
    await mkdir(opts.path, { recursive: true }).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOTCONN') throw err })
    const child = spawnMeshfs([
      'mount', opts.path, '--key', opts.key, '--store', opts.store,
      ...opts.bootstrap.flatMap((b) => ['--bootstrap', b]), ...(opts.args ?? [])
    ])
    const mount = new MountProcess(opts, child)
    try {
      await waitForLine(child, /mounted /, 60_000)
    } catch (err) {
      await mount.kill()
      throw err
    }
    return mount
  }

  /** SIGTERM, as a user's Ctrl-C: unmount, flush, close. Resolves with the exit code. */
  async stop (timeoutMs = 30_000): Promise<number | null> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill('SIGTERM')
      const timer = setTimeout(() => this.process.kill('SIGKILL'), timeoutMs)
      await exited(this.process)
      clearTimeout(timer)
    }
    await forceUnmount(this.path)
    return this.process.exitCode
  }

  /** kill -9: no unmount, no flush; leaves a stale mount behind. */
  async kill (): Promise<void> {
    this.process.kill('SIGKILL')
    await exited(this.process)
  }
}

/** Lazily unmounts path if anything is still mounted there (cleanup after failures). */
export async function forceUnmount (path: string): Promise<void> {
  if (await isMounted(path)) await unmount(path).catch(() => {})
}

/** A local testnet, N storage peers in their own processes, and a key: the demo topology. */
export class TestMesh {
  private constructor (readonly root: string, readonly key: string, readonly testnet: LocalTestnet, readonly grid: PeerGrid) {}

  static async start (opts: { peers?: number, capacity?: string, args?: (index: number) => string[] } = {}): Promise<TestMesh> {
    const root = await mkdtemp(join(tmpdir(), 'meshfs-mesh-'))
    const key = formatMeshKey(generateMeshSecret())
    const testnet = await startTestnet()
    let grid: PeerGrid
    try {
      grid = await PeerGrid.start({ count: opts.peers ?? 5, key, bootstrap: testnet.bootstrap, capacity: opts.capacity, args: opts.args })
    } catch (err) {
      await testnet.destroy()
      throw err
    }
    return new TestMesh(root, key, testnet, grid)
  }

  mount (name = 'mnt', args: string[] = []): Promise<MountProcess> {
    return MountProcess.start({
      key: this.key, bootstrap: this.testnet.bootstrap, store: join(this.root, `${name}-store`), path: join(this.root, name), args
    })
  }

  async stop (): Promise<void> {
    await this.grid.stop()
    await this.testnet.destroy()
    await rm(this.root, { recursive: true, force: true })
  }
}

/** Cleanup after a test file: the mount, then the mesh, then temp folders; each only if it exists. */
export async function stopAll (mount: MountProcess | null | undefined, mesh: TestMesh | undefined, ...dirs: Array<string | undefined>): Promise<void> {
  await mount?.stop()
  await mesh?.stop()
  for (const dir of dirs) if (dir) await rm(dir, { recursive: true, force: true })
}

/** Fast maintenance for tests: a peer silent 3 s is down, repair passes every second. */
export const FAST_REPAIR = ['--down-after', '3', '--repair-interval', '1']

import { afterAll, beforeAll } from 'vitest'
import { FAST_REPAIR, TestMesh, stopAll, type MountProcess } from './mesh-mount.ts'

// Kept apart from mesh-mount.ts: that one is also used by the benchmarks, outside vitest.

export interface MeshFixture {
  readonly mesh: TestMesh
  readonly mount: MountProcess
  /** A fresh mount process on the same store (nothing cached), with extra mount arguments. */
  remount (extra?: string[]): Promise<MountProcess>
}

/**
 * Inside a describe(): a local mesh of storage peers (each started with peerArgs) and one mount
 * (rs:3+2 and mountArgs), started before the tests and stopped after them.
 */
export function meshFixture (opts: { peers: number, peerArgs: string[], mountArgs?: string[] }): MeshFixture {
  const mountArgs = ['--redundancy', 'rs:3+2', ...(opts.mountArgs ?? FAST_REPAIR)]
  let mesh: TestMesh | undefined
  let mount: MountProcess | undefined
  beforeAll(async () => {
    mesh = await TestMesh.start({ peers: opts.peers, capacity: '1G', args: () => opts.peerArgs })
    mount = await mesh.mount('mnt', mountArgs)
  }, 120_000)
  afterAll(() => stopAll(mount, mesh), 60_000)
  return {
    get mesh () { return mesh! },
    get mount () { return mount! },
    async remount (extra = []) {
      await mount!.stop()
      mount = await mesh!.mount('mnt', [...mountArgs, ...extra])
      return mount
    }
  }
}

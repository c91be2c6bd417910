// A Vfs over a testbed (vfs-testbed.ts), FUSE-mounted in the test's own process at dir/mnt: the
// binding's tests (mount life cycle, request times) need the real kernel, not the mesh.
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { Vfs } from '../../lib/vfs/vfs.ts'
import { FuseMount } from '../../lib/fuse/fuse-mount.ts'
import { forceUnmount } from './mesh-mount.ts'
import { closeTestbed, openTestbed, testStorage, type Testbed } from './vfs-testbed.ts'

export interface InProcessMount {
  bed: Testbed
  /** The mount point (mounted only by mount()). */
  mnt: string
  vfs: Vfs
  /** Mounts vfs at mnt (again, after an unmount); close() unmounts whatever is still mounted. */
  mount: () => FuseMount
  close: () => Promise<void>
}

export async function openInProcessMount (prefix: string): Promise<InProcessMount> {
  const bed = await openTestbed(prefix)
  const mnt = join(bed.dir, 'mnt')
  await mkdir(mnt)
  const vfs = new Vfs({ meta: bed.meta, storage: testStorage(bed.network), chunkSize: 64 * 1024 })
  const mounts: FuseMount[] = []
  return {
    bed,
    mnt,
    vfs,
    mount: () => {
      const fuse = FuseMount.mount(vfs, mnt)
      mounts.push(fuse)
      return fuse
    },
    close: async () => {
      for (const fuse of mounts.splice(0)) if (!fuse.ended) await fuse.unmount(2000)
      await forceUnmount(mnt)
      await vfs.stop()
      await closeTestbed(bed)
    }
  }
}

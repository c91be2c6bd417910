// A real FUSE mount's life in this process: the JavaScript thread reads /dev/fuse itself (libuv
// poll), so unmount must stop watching the device before libfuse closes it, and a mount ended from
// outside must be noticed. Mounts follow each other at one path, as a remount does.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FuseMount } from '../../lib/fuse/fuse-mount.ts'
import { openInProcessMount, type InProcessMount } from '../helpers/in-process-mount.ts'

// Async only: a synchronous call into the mount would block the thread that answers it.
const run = promisify(execFile)

describe('a mount in this process', () => {
  let bed: InProcessMount
  let mnt: string
  let mount: () => FuseMount

  beforeEach(async () => {
    bed = await openInProcessMount('meshfs-lifecycle-')
    ;({ mnt, mount } = bed)
  })

  afterEach(async () => {
    await bed.close()
  })

  it('unmounts at once, mounts again at the same path, and ends when unmounted from outside', async () => {
    const first = mount()
    await writeFile(join(mnt, 'kept.txt'), 'written through the first mount')
    expect(await first.unmount(10_000)).toBe(true) // the kernel let go, and the binding said so (not the wait's end)
    expect(first.ended).toBe(true)
    expect(await readdir(mnt)).toEqual([]) // the bare mount point

    const second = mount() // the device may come back under the number the first one had
    expect(await readFile(join(mnt, 'kept.txt'), 'utf8')).toBe('written through the first mount')
    let ended = false
    second.onEnded(() => { ended = true })
    await run('umount', ['-l', mnt]) // from outside: the device reports the end, nothing here asked
    for (let i = 0; i < 100 && !ended; i++) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(ended).toBe(true)
    expect(second.ended).toBe(true)

    mount()
    expect(await readdir(mnt)).toEqual(['kept.txt'])
  })
})

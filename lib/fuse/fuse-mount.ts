import { stat, writeFile } from 'node:fs/promises'
import type { FileSystemApi } from '../vfs/vfs.ts'
import { FuseAdapter } from './fuse-adapter.ts'
import type { RequestTimes } from './request-times.ts'
import { loadBinding, type KernelLimits, type MeshFuseBinding, type MountHandle } from './native.ts'

/**
 * What the kernel is asked for at mount time. 1 MiB writes and read-ahead match the chunk size,
 * so one request is one chunk (fuse-native could not ask for more than 4 KiB / 128 KiB writes).
 */
export const KERNEL_LIMITS: KernelLimits = { maxWrite: 1 << 20, maxReadahead: 1 << 20, maxBackground: 64 }

export interface FuseMountOptions {
  /** Name shown in /proc/mounts and df (default "meshfs"). */
  fsName?: string
  /** Let other users see the mount (root, or user_allow_other in /etc/fuse.conf). */
  allowOther?: boolean
  /** Seconds the kernel caches names and attributes (default 1). */
  cacheSeconds?: number
  log?: (line: string) => void
}

/** A live FUSE mount of a filesystem (the Vfs; the benchmark's ceiling). */
export class FuseMount {
  private unmounting: Promise<void> | null = null

  private constructor (
    readonly path: string,
    private readonly native: MeshFuseBinding,
    private readonly handle: MountHandle,
    private readonly adapter: FuseAdapter
  ) {
    adapter.onEnded(() => native.dispose(handle))
  }

  static mount (vfs: FileSystemApi, path: string, opts: FuseMountOptions = {}): FuseMount {
    const native = loadBinding()
    const adapter = new FuseAdapter(vfs, native, { cacheSeconds: opts.cacheSeconds, log: opts.log })
    const options = [`fsname=${opts.fsName ?? 'meshfs'}`, 'subtype=meshfs', 'default_permissions']
    if (opts.allowOther) options.push('allow_other')
    const handle = native.mount(path, ['-o', options.join(',')], adapter.request, KERNEL_LIMITS)
    adapter.attach(handle)
    return new FuseMount(path, native, handle, adapter)
  }

  /**
   * Raises the kernel's read-ahead for this mount to maxReadahead: FUSE mounts start at 128 KiB,
   * which caps every read request at 128 KiB whatever was negotiated (measured: 1 MiB reads give
   * ~2x the read throughput of an in-memory filesystem). Needs root; returns what it did.
   */
  async tuneReadahead (): Promise<string> {
    try {
      const dev = Number((await stat(this.path)).dev) // async: the stat is answered by this very process
      const major = (dev >> 8) & 0xfff
      const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
      const file = `/sys/class/bdi/${major}:${minor}/read_ahead_kb`
      await writeFile(file, String(KERNEL_LIMITS.maxReadahead / 1024))
      return `read-ahead ${KERNEL_LIMITS.maxReadahead / 1024} KiB`
    } catch (err) {
      return `read-ahead left at the kernel default (${(err as NodeJS.ErrnoException).code ?? String(err)})`
    }
  }

  /** How long each kind of kernel request took to answer. */
  get requestTimes (): RequestTimes { return this.adapter.times }

  /** True once the kernel has let go of the mount (unmount() here, or fusermount -u / umount). */
  get ended (): boolean { return this.adapter.ended }

  /** Calls back when the mount ends, whoever ended it. */
  onEnded (callback: () => void): void { this.adapter.onEnded(callback) }

  /**
   * Detaches the mount (lazily: programs still inside keep working until they leave) and waits up
   * to waitMs for the kernel to let go. Resolves true if it did.
   */
  async unmount (waitMs = 5000): Promise<boolean> {
    this.unmounting ??= new Promise<void>((resolve) => {
      this.native.unmount(this.handle)
      this.adapter.onEnded(resolve)
    })
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), waitMs) })
    try {
      return await Promise.race([this.unmounting.then(() => true), timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

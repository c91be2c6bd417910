// The ceiling filesystem as its own process, like a meshfs mount: `node --import tsx
// bench/ceiling-mount.ts DIR` mounts MemoryFs at DIR with meshfs's FUSE binding and options,
// prints "mounted DIR", and unmounts on SIGTERM or SIGINT.
import { FuseMount } from '../lib/fuse/fuse-mount.ts'
import { MemoryFs } from './memory-fs.ts'

const path = process.argv[2]
if (!path) throw new Error('usage: bench/ceiling-mount.ts DIR')
const fuse = FuseMount.mount(new MemoryFs(), path, { fsName: 'ceiling' })
const readahead = await fuse.tuneReadahead()
console.log(`mounted ${path} (in memory, ${readahead})`)
const stop = async () => { await fuse.unmount(); process.exit() }
process.once('SIGTERM', () => { void stop() })
process.once('SIGINT', () => { void stop() })
fuse.onEnded(() => process.exit())

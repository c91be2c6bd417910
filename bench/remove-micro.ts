// The metadata cost of an unlink: MetaStore.remove over N small files (default 10,000; 40 per
// directory, as bench/workloads.ts's tree), with batches committed as a mount's (10 ms, sealed
// every 100 ms, a keep() every 20 removals as closes would). No FUSE, no mesh: the database alone.
//   node --import tsx bench/remove-micro.ts [N]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { MetaStore, ROOT } from '../lib/meta/meta-store.ts'
import { Kind } from '../lib/meta/ops.ts'
import type { Ino } from '../lib/ports.ts'

const n = Number(process.argv[2] ?? 10_000)
const root = await mkdtemp(join(tmpdir(), 'meshfs-remove-'))
try {
  const meta = MetaStore.open(join(root, 'meta.db'), { metadataKey: randomBytes(32), batchMs: 10, sealMs: 100, durability: 'process' })
  const dirs: Ino[] = []
  for (let i = 0; i < n; i++) {
    if (i % 40 === 0) { dirs.push(meta.create(ROOT, `d${i}`, { kind: Kind.Dir, mode: 0o40755, uid: 0, gid: 0 }).ino); meta.persist() }
    const f = meta.create(dirs.at(-1)!, `file-${i}.c`, { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 })
    meta.writeChunks(f.ino, [{ index: 0, ref: Buffer.concat([Buffer.from([2]), randomBytes(i % 2 ? 300 : 3000)]) }], { size: 3000 })
  }
  meta.persist()
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    meta.remove(dirs[Math.floor(i / 40)]!, `file-${i}.c`, { dir: false })
    if (i % 20 === 19) { meta.keep(); await new Promise((resolve) => setImmediate(resolve)) }
  }
  const ms = performance.now() - start
  meta.persist()
  console.log(`remove: ${(ms / n * 1000).toFixed(1)} µs per file (${n} files, with the batches' commits)`)
  meta.close()
} finally {
  await rm(root, { recursive: true, force: true })
}

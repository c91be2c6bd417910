// Child process for the crash test: changes metadata as fast as it can until it is killed.
// Prints "ready" once, then a line per committed step so the parent can kill it mid-work.
import { MetaStore, ROOT } from '../../lib/meta/meta-store.ts'
import { Kind } from '../../lib/meta/ops.ts'

// 'batched': with group commit, as a mount opens it; a step is acknowledged once persisted.
// 'kept': the same, a step acknowledged once kept (committed, sealed later with its batch: a close).
const mode = process.argv[4]
const batched = mode === 'batched' || mode === 'kept'
const meta = MetaStore.open(process.argv[2] as string, { durability: 'process', batchMs: batched ? 10 : 0 })
const round = process.argv[3] as string // names are unique per round: a restart never collides
const file = { kind: Kind.File, mode: 0o100644, uid: 0, gid: 0 }
process.stdout.write('ready\n')
for (let i = 0; ; i++) {
  const dirName = `d${i % 7}`
  let dir
  try {
    dir = meta.lookup(ROOT, dirName)
  } catch {
    dir = meta.create(ROOT, dirName, { kind: Kind.Dir, mode: 0o40755, uid: 0, gid: 0 })
  }
  const f = meta.create(dir.ino, `r${round}f${i}`, file)
  meta.writeChunks(f.ino, [{ index: 0, ref: Buffer.alloc(200, i % 256) }, { index: 1, ref: Buffer.alloc(100, 1) }], { size: 1024 * 1024 + 10 })
  if (i % 3 === 0) meta.rename(dir.ino, `r${round}f${i}`, ROOT, `r${round}moved${i}`)
  if (i % 5 === 0 && i > 0) {
    try { meta.remove(ROOT, `r${round}moved${i - 3}`, { dir: false }) } catch {}
  }
  // Batched: a few steps per batch (a kill lands inside batches too), persisted before they are told.
  if (batched && i % 4 === 3) {
    if (mode === 'kept' && i % 16 !== 15) meta.keep()
    else meta.persist()
  }
  if (!batched || i % 4 === 3) process.stdout.write(`${i}\n`)
}

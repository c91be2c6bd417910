// npm run bench [-- codec|schemes|mesh|meta|mount|repair]: every benchmark (or the ones named), each case beside a
// baseline measured in the same run.
import { printTable } from './table.ts'
import { benchCodec } from './codec.ts'
import { benchMesh } from './mesh.ts'
import { benchMeta } from './meta.ts'
import { benchSchemes } from './schemes.ts'
import { benchMount, printFsTable } from './mount.ts'
import { benchRepair } from './repair.ts'
import { freshBundle } from '../bin/bundle.js'

const only = new Set(process.argv.slice(2))
const wanted = (name: string) => only.size === 0 || only.has(name)
await freshBundle() // the meshfs processes run it, as a user's do

if (wanted('codec')) printTable('Codec: encode/decode of 1 MiB chunks (baseline: memcpy of the same bytes)', await benchCodec())
if (wanted('schemes')) {
  const schemes = await benchSchemes()
  printTable('Redundancy schemes: encode/decode of 1 MiB chunks, one at a time (baseline: memcpy)', schemes.speed)
  printTable('Bytes read to rebuild one lost shard of a 1 MiB chunk, as the codec plans it (baseline: rs:K+M, which reads the whole chunk)', schemes.rebuild, 'KiB')
}
if (wanted('mesh')) printTable('Chunks through a 5-peer mesh, rs:3+2 (baseline: one-peer local store)', await benchMesh())
if (wanted('meta')) {
  const meta = await benchMeta()
  printTable('Metadata through the mount, no network (baseline: the local disk)', meta.latency, 'µs/op')
  printTable('Metadata on disk (baseline: the bytes of the signed, sealed ops)', meta.size, 'bytes')
  printTable('Catch-up of a fresh peer (baseline: the same ops applied from a local copy)', meta.catchUp, 's')
  for (const note of meta.notes) console.log(`  ${note}`)
}
if (wanted('mount')) {
  const mount = await benchMount()
  printFsTable('The filesystem: local disk, the ceiling (in memory, same FUSE binding and options, no mesh), meshfs (5 storage peers, rs:3+2)', mount.rows)
  for (const [name, bytes] of Object.entries(mount.rss)) console.log(`  ${name}: ${(bytes / 1e6).toFixed(0)} MB`)
  for (const note of mount.notes) console.log(`  ${note}`)
  console.log(`  as JSON: ${mount.json}`)
}
if (wanted('repair')) {
  const repair = await benchRepair()
  printTable('Self-healing: 6 storage peers, rs:3+2, a mount', repair.rows)
  for (const note of repair.notes) console.log(`  ${note}`)
}

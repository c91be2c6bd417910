// npm run bench: every benchmark, each case beside a baseline measured in the same run.
import { printTable } from './table.ts'
import { benchCodec } from './codec.ts'
import { benchMesh } from './mesh.ts'

printTable('Codec: encode/decode of 1 MiB chunks (baseline: memcpy of the same bytes)', await benchCodec())
printTable('Chunks through a 5-peer mesh, rs:3+2 (baseline: one-peer local store)', await benchMesh())

import { compareHlc, type Hlc } from './hlc.ts'

/** A place in the merge order: ops are applied by (HLC, writer), the same on every peer. */
export interface Position { hlc: Hlc, writer: Buffer }

export function comparePosition (a: Position, b: Position): number {
  return compareHlc(a.hlc, b.hlc) || Buffer.compare(a.writer, b.writer)
}

/** As kept in the settings table (how far the tree is applied). */
export function encodePosition (p: Position): Buffer {
  const out = Buffer.alloc(16 + p.writer.byteLength)
  out.writeDoubleBE(p.hlc.ms, 0)
  out.writeDoubleBE(p.hlc.count, 8)
  p.writer.copy(out, 16)
  return out
}

export function decodePosition (b: Buffer): Position {
  return { hlc: { ms: b.readDoubleBE(0), count: b.readDoubleBE(8) }, writer: b.subarray(16) }
}

import c, { type Encoder, type State } from 'compact-encoding'
import type { Hlc } from './hlc.ts'

// Every metadata change is an op: appended to its writer's log and applied to the tree in one
// transaction. The logs are the truth (replicated between peers, merged in HLC order); the tree
// is what they materialize to. Ops name files by file id (Fid), the same on every peer; inode
// numbers are local. Wire and disk form: compact-encoding, versioned by OP_FORMAT, sealed in
// an envelope (op-envelope.ts).

export const OP_FORMAT = 2

/** A file's id on every peer: 8 bytes of its creator's writer key, then the creator's counter. */
export type Fid = Buffer

export const FID_BYTES = 16

/** The root directory's id (it exists on every peer without a Create op). */
export const ROOT_FID: Fid = Buffer.alloc(FID_BYTES)

export interface Time { sec: number, nsec: number }

/** Special: a FIFO or a socket (its type is in the mode); the kernel does its I/O, not meshfs. */
export const enum Kind { File = 1, Dir = 2, Symlink = 3, Special = 4 }

export const enum OpType { Create = 1, Remove = 2, Rename = 3, SetAttr = 4, SetChunk = 5, DropChunks = 6, SetXattr = 7, Hello = 8, Write = 9, Link = 10, SetXattrValue = 11, Recode = 12 }

export interface ChunkEntry { index: number, ref: Buffer }

export interface Attrs {
  mode?: number
  uid?: number
  gid?: number
  size?: number
  atime?: Time
  mtime?: Time
}

export type Op =
  | { type: OpType.Create, ino: Fid, parent: Fid, name: Buffer, kind: Kind, mode: number, uid: number, gid: number, target: Buffer | null, time: Time }
  | { type: OpType.Remove, parent: Fid, name: Buffer, ino: Fid, time: Time }
  /** over: the file the writer saw at the new name and meant to replace (ROOT_FID: none). */
  | { type: OpType.Rename, parent: Fid, name: Buffer, ino: Fid, newParent: Fid, newName: Buffer, over: Fid, time: Time }
  | { type: OpType.SetAttr, ino: Fid, attrs: Attrs, time: Time }
  | { type: OpType.SetChunk, ino: Fid, index: number, ref: Buffer, time: Time }
  | { type: OpType.DropChunks, ino: Fid, from: number, time: Time }
  /** Removes an attribute (value null). Also sets one in logs written before SetXattrValue. */
  | { type: OpType.SetXattr, ino: Fid, name: string, value: Buffer | null, time: Time }
  /** Sets an attribute; the value may be empty (SetXattr's encoding reads an empty value as null). */
  | { type: OpType.SetXattrValue, ino: Fid, name: string, value: Buffer, time: Time }
  /**
   * A file's content changed (one flush or truncate): chunks dropped from dropFrom on (-1: none),
   * chunks set, new size and mtime. base names the version the writer changed; a Write whose
   * base is not the file's version was concurrent with another and lands in a conflict copy.
   */
  | { type: OpType.Write, ino: Fid, base: Buffer, dropFrom: number, chunks: ChunkEntry[], size: number, mtime: Time, time: Time }
  /**
   * A chunk stored again under another redundancy scheme (a directory's policy changed): the
   * chunk at index becomes ref if it is still from (else the file changed meanwhile and the
   * op does nothing). The content, size, mtime and version stay as they are.
   */
  | { type: OpType.Recode, ino: Fid, index: number, from: Buffer, ref: Buffer, time: Time }
  /** A hard link: one more name for a file. */
  | { type: OpType.Link, ino: Fid, parent: Fid, name: Buffer, time: Time }
  /** A writer's first op, and its later acknowledgements: changes nothing, tells every peer how far it has seen. */
  | { type: OpType.Hello, time: Time }

const time: Encoder<Time> = {
  preencode (state, t) { c.int.preencode(state, t.sec); c.uint.preencode(state, t.nsec) },
  encode (state, t) { c.int.encode(state, t.sec); c.uint.encode(state, t.nsec) },
  decode: (state) => ({ sec: c.int.decode(state), nsec: c.uint.decode(state) })
}

const optionalBuffer = (c as unknown as { optionalBuffer: Encoder<Buffer | null> }).optionalBuffer
const fixed16 = c.fixed(FID_BYTES)
const ino: Encoder<Fid> = {
  preencode: (state, f) => fixed16.preencode(state, f),
  encode: (state, f) => fixed16.encode(state, f),
  decode: (state) => Buffer.from(fixed16.decode(state))
}

// SetAttr carries only the fields it changes: a flag bit per field.
const ATTR_FIELDS = ['mode', 'uid', 'gid', 'size', 'atime', 'mtime'] as const
const attrs: Encoder<Attrs> = {
  preencode (state, a) {
    c.uint.preencode(state, 0)
    for (const field of ATTR_FIELDS) {
      const value = a[field]
      if (value === undefined) continue
      if (typeof value === 'number') c.uint.preencode(state, value)
      else time.preencode(state, value)
    }
  },
  encode (state, a) {
    let flags = 0
    ATTR_FIELDS.forEach((field, bit) => { if (a[field] !== undefined) flags |= 1 << bit })
    c.uint.encode(state, flags)
    for (const field of ATTR_FIELDS) {
      const value = a[field]
      if (value === undefined) continue
      if (typeof value === 'number') c.uint.encode(state, value)
      else time.encode(state, value)
    }
  },
  decode (state) {
    const flags = c.uint.decode(state)
    const a: Attrs = {}
    if (flags & 1) a.mode = c.uint.decode(state)
    if (flags & 2) a.uid = c.uint.decode(state)
    if (flags & 4) a.gid = c.uint.decode(state)
    if (flags & 8) a.size = c.uint.decode(state)
    if (flags & 16) a.atime = time.decode(state)
    if (flags & 32) a.mtime = time.decode(state)
    return a
  }
}

const chunkEntry: Encoder<ChunkEntry> = {
  preencode (state, e) { c.uint.preencode(state, e.index); c.buffer.preencode(state, e.ref) },
  encode (state, e) { c.uint.encode(state, e.index); c.buffer.encode(state, e.ref) },
  decode: (state) => ({ index: c.uint.decode(state), ref: Buffer.from(c.buffer.decode(state) ?? Buffer.alloc(0)) })
}
const chunkList = c.array(chunkEntry)

// One list of fields per op type, in wire order.
type Field = [string, Encoder<any>]
const FIELDS: Record<OpType, Field[]> = {
  [OpType.Create]: [['ino', ino], ['parent', ino], ['name', c.buffer], ['kind', c.uint], ['mode', c.uint], ['uid', c.uint], ['gid', c.uint], ['target', optionalBuffer], ['time', time]],
  [OpType.Remove]: [['parent', ino], ['name', c.buffer], ['ino', ino], ['time', time]],
  [OpType.Rename]: [['parent', ino], ['name', c.buffer], ['ino', ino], ['newParent', ino], ['newName', c.buffer], ['over', ino], ['time', time]],
  [OpType.SetAttr]: [['ino', ino], ['attrs', attrs], ['time', time]],
  [OpType.SetChunk]: [['ino', ino], ['index', c.uint], ['ref', c.buffer], ['time', time]],
  [OpType.DropChunks]: [['ino', ino], ['from', c.uint], ['time', time]],
  [OpType.SetXattr]: [['ino', ino], ['name', c.string], ['value', optionalBuffer], ['time', time]],
  [OpType.SetXattrValue]: [['ino', ino], ['name', c.string], ['value', c.buffer], ['time', time]],
  [OpType.Hello]: [['time', time]],
  [OpType.Link]: [['ino', ino], ['parent', ino], ['name', c.buffer], ['time', time]],
  [OpType.Recode]: [['ino', ino], ['index', c.uint], ['from', c.buffer], ['ref', c.buffer], ['time', time]],
  [OpType.Write]: [['ino', ino], ['base', c.buffer], ['dropFrom', c.int], ['chunks', chunkList], ['size', c.uint], ['mtime', time], ['time', time]]
}

export const op: Encoder<Op> = {
  preencode (state, o) {
    c.uint.preencode(state, OP_FORMAT)
    c.uint.preencode(state, o.type)
    for (const [name, enc] of FIELDS[o.type]) enc.preencode(state, (o as any)[name])
  },
  encode (state, o) {
    c.uint.encode(state, OP_FORMAT)
    c.uint.encode(state, o.type)
    for (const [name, enc] of FIELDS[o.type]) enc.encode(state, (o as any)[name])
  },
  decode (state: State) {
    const format = c.uint.decode(state)
    if (format !== OP_FORMAT) throw new Error(`metadata op format ${format} is not supported (expected ${OP_FORMAT})`)
    const type = c.uint.decode(state) as OpType
    const fields = FIELDS[type]
    if (!fields) throw new Error(`unknown metadata op type ${type}`)
    const o: Record<string, unknown> = { type }
    for (const [name, enc] of fields) o[name] = enc.decode(state)
    if (o.name instanceof Uint8Array) o.name = Buffer.from(o.name)
    if (o.newName instanceof Uint8Array) o.newName = Buffer.from(o.newName)
    if (o.base instanceof Uint8Array) o.base = Buffer.from(o.base)
    if (o.value instanceof Uint8Array) o.value = Buffer.from(o.value)
    if (o.from instanceof Uint8Array) o.from = Buffer.from(o.from)
    if (o.ref instanceof Uint8Array) o.ref = Buffer.from(o.ref)
    return o as unknown as Op
  }
}

export function encodeOp (o: Op): Buffer {
  return Buffer.from(c.encode(op, o))
}

/** Bytes o takes encoded (without encoding it). */
export function opBytes (o: Op): number {
  const state = { start: 0, end: 0, buffer: null }
  op.preencode(state, o)
  return state.end
}

export function decodeOp (bytes: Uint8Array): Op {
  return c.decode(op, bytes)
}

/** An op with the HLC its writer gave it (several ops go in one envelope: see encodeOps). */
export interface TimedOp { op: Op, hlc: Hlc }

// Several ops in one envelope (OPS_BATCH_FORMAT): one signature and one row for all of them.
// Each keeps its own HLC, which the tree's rules use; the envelope's HLC, later than all of
// them, is where the batch stands in the merge order. An envelope body in OP_FORMAT is one op
// made at the envelope's HLC (logs written before batches).
const OPS_BATCH_FORMAT = 3

const timedOp: Encoder<TimedOp> = {
  preencode (state, t) { c.uint.preencode(state, t.hlc.ms); c.uint.preencode(state, t.hlc.count); op.preencode(state, t.op) },
  encode (state, t) { c.uint.encode(state, t.hlc.ms); c.uint.encode(state, t.hlc.count); op.encode(state, t.op) },
  decode: (state) => ({ hlc: { ms: c.uint.decode(state), count: c.uint.decode(state) }, op: op.decode(state) })
}
const timedOps = c.array(timedOp)

/** An envelope body of several ops. */
const opsBody: Encoder<TimedOp[]> = {
  preencode (state, ops) { c.uint.preencode(state, OPS_BATCH_FORMAT); timedOps.preencode(state, ops) },
  encode (state, ops) { c.uint.encode(state, OPS_BATCH_FORMAT); timedOps.encode(state, ops) },
  decode (state) {
    c.uint.decode(state) // OPS_BATCH_FORMAT, checked by decodeOps
    const ops = timedOps.decode(state)
    if (state.start !== state.end) throw new Error('trailing bytes after metadata ops')
    return ops
  }
}

export function encodeOps (ops: TimedOp[]): Buffer {
  return Buffer.from(c.encode(opsBody, ops))
}

/** The ops of an envelope body, either format; at: the envelope's HLC (a single op's). */
export function decodeOps (bytes: Uint8Array, at: Hlc): TimedOp[] {
  if (c.decode(c.uint, bytes.subarray(0, 9)) !== OPS_BATCH_FORMAT) return [{ op: decodeOp(bytes), hlc: at }]
  return c.decode(opsBody, bytes)
}

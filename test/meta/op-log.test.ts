// Op envelopes and the op store every peer keeps: signed by their writer, sealed with the
// metadata key, numbered without holes per writer. Storage-only peers keep and check them
// without being able to read them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decodeEnvelope, openEnvelope, sealEnvelope } from '../../lib/meta/op-envelope.ts'
import { OpStore } from '../../lib/meta/op-store.ts'
import { HybridClock, compareHlc } from '../../lib/meta/hlc.ts'
import { signingKeyPair } from '../../crypto/signing.ts'
import { deriveMeshKeys } from '../../crypto/key-hierarchy.ts'
import { generateMeshSecret } from '../../crypto/mesh-key.ts'
import { isMeshError } from '../../lib/errors.ts'

const keys = deriveMeshKeys(generateMeshSecret())
const other = deriveMeshKeys(generateMeshSecret())
const alice = signingKeyPair()
const bob = signingKeyPair()

function op (writer = alice, seq = 1, text = `op ${seq}`) {
  return sealEnvelope(keys.metadataKey, writer, seq, { ms: 1000 + seq, count: 0 }, Buffer.from(text))
}

describe('op envelopes', () => {
  it('open to the op for holders of the metadata key, and to nobody else', () => {
    const env = op(alice, 7, 'rename a to b')
    const back = decodeEnvelope(env.bytes)
    expect(back.seq).toBe(7)
    expect(back.writer.equals(alice.publicKey)).toBe(true)
    expect(back.hlc).toEqual({ ms: 1007, count: 0 })
    expect(openEnvelope(keys.metadataKey, back).toString()).toBe('rename a to b')
    expect(env.bytes.includes(Buffer.from('rename'))).toBe(false)
    expect(() => openEnvelope(other.metadataKey, back)).toThrow(/failed authentication/)
  })

  it('are refused when any byte is changed, or when signed by someone else', () => {
    const env = op()
    for (let i = 0; i < env.bytes.length; i += 7) {
      const bad = Buffer.from(env.bytes)
      bad[i]! ^= 0x01
      expect(() => decodeEnvelope(bad), `byte ${i}`).toThrow(/rejected/)
    }
    // Bob re-signs Alice's header and body with his key: the signature no longer matches the writer.
    const forged = Buffer.concat([env.bytes.subarray(0, env.bytes.length - 64), op(bob).signature])
    expect(() => decodeEnvelope(forged)).toThrow(/bad signature/)
    expect(() => decodeEnvelope(Buffer.alloc(10))).toThrow(/too short/)
  })

  it('keep their body sealed to their header: a body moved under another header does not open', () => {
    const one = op(alice, 1)
    const two = op(alice, 2)
    const moved = { ...decodeEnvelope(two.bytes), body: one.body }
    expect(() => openEnvelope(keys.metadataKey, moved)).toThrow(/failed authentication/)
  })
})

describe('hybrid logical clock', () => {
  it('orders every tick after everything seen, even when the wall clock goes back', () => {
    let wall = 5000
    const clock = new HybridClock(() => wall)
    const a = clock.tick()
    wall = 4000 // the clock stepped back
    const b = clock.tick()
    expect(compareHlc(b, a)).toBeGreaterThan(0)
    clock.observe({ ms: 9000, count: 3 })
    const c = clock.tick()
    expect(c).toEqual({ ms: 9000, count: 4 })
    wall = 10_000
    expect(clock.tick()).toEqual({ ms: 10_000, count: 0 })
  })
})

describe('OpStore', () => {
  let dir: string
  let store: OpStore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-ops-'))
    store = OpStore.open(join(dir, 'ops.db'))
  })

  afterEach(async () => {
    store.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps each writer in order without holes, and says what it has', () => {
    const seen: number[] = []
    store.onAdded((_, __, seq) => seen.push(seq))
    expect(store.add(op(alice, 1).bytes).result).toBe('added')
    expect(store.add(op(alice, 3).bytes).result).toBe('gap')
    expect(store.add(op(alice, 2).bytes).result).toBe('added')
    expect(store.add(op(alice, 2).bytes).result).toBe('duplicate')
    expect(store.add(op(alice, 3).bytes).result).toBe('added')
    expect(store.add(op(bob, 1).bytes).result).toBe('added')
    expect(seen).toEqual([1, 2, 3, 1])
    const heads = store.heads().map((h) => [Buffer.from(h.writer).toString('hex'), h.seq])
    expect(new Map(heads as Array<[string, number]>)).toEqual(new Map([[alice.publicKey.toString('hex'), 3], [bob.publicKey.toString('hex'), 1]]))
    expect(store.since(alice.publicKey, 1, 10).map((b) => decodeEnvelope(b).seq)).toEqual([2, 3])
    expect(store.stats).toMatchObject({ added: 4, duplicates: 1, gaps: 1, rejected: 0 })
  })

  it('turns away a copy it holds by its number, before the costly signature check', () => {
    store.add(op(alice, 1).bytes)
    const copy = Buffer.from(op(alice, 1).bytes)
    copy[copy.length - 1]! ^= 0xff // a check of its signature would refuse it
    expect(store.add(copy).result).toBe('duplicate')
    expect(store.stats).toMatchObject({ duplicates: 1, rejected: 0 })
  })

  it('refuses and counts forged or garbled envelopes, and survives a reopen', () => {
    store.add(op(alice, 1).bytes)
    const bad = Buffer.from(op(alice, 2).bytes)
    bad[bad.length - 1]! ^= 0xff
    let caught: unknown = null
    try { store.add(bad) } catch (err) { caught = err }
    expect(isMeshError(caught, 'PROTOCOL')).toBe(true)
    expect(store.stats.rejected).toBe(1)
    store.close()
    store = OpStore.open(join(dir, 'ops.db'))
    expect(store.heads().map((h) => h.seq)).toEqual([1])
    expect(store.size).toBe(1)
  })
})

// The spill file on its own: slots on a real local file, unlinked while open.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { SpillFile } from '../../lib/vfs/spill-file.ts'

const SLOT = 64 * 1024

describe('SpillFile', () => {
  let dir: string
  let spill: SpillFile

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshfs-spill-'))
    spill = new SpillFile(join(dir, 'spill'), SLOT, 3 * SLOT)
  })

  afterEach(async () => {
    spill.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('is unlinked as soon as it is open: nothing of it outlives the process', () => {
    expect(existsSync(join(dir, 'spill'))).toBe(false)
  })

  it('keeps chunks in slots, modified in place and read in ranges, up to its limit', () => {
    const a = randomBytes(SLOT)
    const b = randomBytes(SLOT)
    const sa = spill.put(a)!
    const sb = spill.put(b)!
    expect(sa).not.toBe(sb)
    const page = randomBytes(4096)
    spill.write(sb, page, 8192)
    page.copy(b, 8192)
    const out = Buffer.alloc(10_000)
    spill.read(sa, 5000, 10_000, out, 0)
    expect(out.equals(a.subarray(5000, 15_000))).toBe(true)
    expect(spill.take(sb).equals(b)).toBe(true)
    expect(spill.take(sa).equals(a)).toBe(true)
    expect(spill.inUse).toBe(0)
    for (let i = 0; i < 3; i++) expect(spill.put(a)).not.toBeNull()
    expect(spill.put(a)).toBeNull() // at its limit, and nothing to make room with
    expect(spill.bytes).toBe(3 * SLOT)
  })

  it('reads zeros past a short chunk in a slot that held a longer one', () => {
    const slot = spill.put(randomBytes(SLOT))!
    spill.release(slot)
    const short = randomBytes(1000)
    const again = spill.put(short)!
    expect(again).toBe(slot)
    const whole = spill.take(again)
    expect(whole.subarray(0, 1000).equals(short)).toBe(true)
    expect(whole.subarray(1000).equals(Buffer.alloc(SLOT - 1000))).toBe(true)
  })

  it('asks makeRoom for a slot when full, and gives up when it has none to give', () => {
    const held = [spill.put(randomBytes(SLOT))!, spill.put(randomBytes(SLOT))!, spill.put(randomBytes(SLOT))!]
    let asked = 0
    spill.makeRoom = () => {
      asked++
      const slot = held.shift()
      if (slot === undefined) return false
      spill.release(slot)
      return true
    }
    expect(spill.put(randomBytes(SLOT))).not.toBeNull()
    expect(asked).toBe(1)
    held.length = 0
    expect(spill.put(randomBytes(SLOT))).toBeNull()
  })

  it('writes a chunk in the background: its slot is taken at once, counted in bytes once written', async () => {
    const chunk = randomBytes(SLOT)
    const pending = spill.putInBackground(chunk)
    expect(spill.inUse).toBe(1)
    expect(spill.bytes).toBe(0) // still being written
    const slot = (await pending)!
    expect(slot).not.toBeNull()
    expect(spill.bytes).toBe(SLOT)
    expect(spill.take(slot).equals(chunk)).toBe(true)
    // A short chunk in a slot that held a longer one reads zeros past its end, as with put().
    const short = randomBytes(1000)
    const again = (await spill.putInBackground(short))!
    const whole = spill.take(again)
    expect(whole.subarray(0, 1000).equals(short)).toBe(true)
    expect(whole.subarray(1000).equals(Buffer.alloc(SLOT - 1000))).toBe(true)
  })

  it('lets put() take the room background writes hold: they give their slots back', async () => {
    const background = [spill.putInBackground(randomBytes(SLOT)), spill.putInBackground(randomBytes(SLOT)), spill.putInBackground(randomBytes(SLOT))]
    expect(await spill.putInBackground(randomBytes(SLOT))).toBeNull() // full: a background write does not wait for room
    const modified = randomBytes(SLOT)
    const slot = spill.put(modified)
    expect(slot).not.toBeNull() // the chunk that must be kept comes first
    const written = await Promise.all(background)
    expect(written.filter((s) => s === null)).toHaveLength(1)
    expect(spill.inUse).toBe(3)
    expect(spill.bytes).toBe(3 * SLOT)
    expect(spill.take(slot!).equals(modified)).toBe(true)
  })

  it('closes its descriptor only once background writes end (its number must not be reused under them)', async () => {
    const chunk = randomBytes(SLOT)
    const pending = spill.putInBackground(chunk)
    spill.close()
    expect(await pending).not.toBeNull() // written: the descriptor was still open
    expect(await spill.putInBackground(chunk)).toBeNull() // closed: nothing more
  })
})

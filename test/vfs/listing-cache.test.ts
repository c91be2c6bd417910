// Directory listings kept while nothing changed, and subdirectories listed ahead for a walk, one
// level ahead of it all the way down; not ahead while the tree is being changed (an rm -rf),
// which drops them before the walk comes, but after a change followed by a quiet while.
import { describe, expect, it } from 'vitest'
import { ListingCache, type ListedEntry } from '../../lib/vfs/listing-cache.ts'
import { Kind } from '../../lib/meta/ops.ts'
import { errors } from '../../lib/errors.ts'
import type { Ino } from '../../lib/ports.ts'
import type { Stat } from '../../lib/vfs/vfs.ts'

const turn = () => new Promise((resolve) => setImmediate(resolve))

/**
 * A tree of directories 1 -> 10..13 -> 100..103 (under 10) -> files; records every listing made
 * from the "database". The clock moves only when told (advance).
 */
function tree () {
  const listed: number[] = []
  const gone = new Set<number>()
  let stamp = 0
  let now = 0
  const entry = (ino: number, kind: Kind): ListedEntry => ({ name: Buffer.from(`n${ino}`), ino: ino as Ino, kind, stat: {} as Stat })
  const cache = new ListingCache({
    list: (dir) => {
      if (gone.has(dir)) throw errors.notFound(`directory ${dir}`)
      listed.push(dir)
      if (dir === 1) return [10, 11, 12, 13].map((i) => entry(i, Kind.Dir))
      if (dir === 10) return [100, 101, 102, 103].map((i) => entry(i, Kind.Dir))
      return [entry(dir * 100, Kind.File)]
    },
    stamp: () => stamp,
    now: () => now
  })
  return { cache, listed, gone, change: () => { stamp++ }, advance: (ms: number) => { now += ms } }
}

async function settle (): Promise<void> {
  for (let i = 0; i < 10; i++) await turn()
}

describe('ListingCache', () => {
  it('keeps a listing while nothing changed, and lists the subdirectories ahead', async () => {
    const { cache, listed } = tree()
    cache.list(1 as Ino)
    cache.list(1 as Ino)
    await settle()
    expect(listed).toEqual([1, 10, 11, 12, 13])
    cache.list(12 as Ino)
    expect(listed).toHaveLength(5) // listed ahead: no query of its own
  })

  it('lists ahead under a directory that was itself listed ahead, the one the walk opens first', async () => {
    const { cache, listed } = tree()
    cache.list(1 as Ino)
    await settle()
    cache.list(10 as Ino) // kept (listed ahead); the walk opening it has its subdirectories listed ahead in turn
    expect(listed).toEqual([1, 10, 11, 12, 13])
    await settle()
    expect(listed).toEqual([1, 10, 11, 12, 13, 100, 101, 102, 103])
    cache.list(10 as Ino)
    await settle()
    expect(listed).toHaveLength(9) // each directory listed ahead once
  })

  it('goes on listing ahead past a directory removed meanwhile', async () => {
    const { cache, listed, gone } = tree()
    gone.add(11)
    cache.list(1 as Ino)
    await settle()
    expect(listed).toEqual([1, 10, 12, 13])
  })

  it('lists ahead when the last change came before a quiet while (a find after an rsync)', async () => {
    const { cache, listed, change, advance } = tree()
    cache.list(1 as Ino)
    await settle()
    change() // the rsync's last change
    advance(5000) // then nothing for a while
    cache.list(1 as Ino)
    await settle()
    expect(listed).toEqual([1, 10, 11, 12, 13, 1, 10, 11, 12, 13])
  })

  it('lists nothing ahead right after a change dropped the kept listings', async () => {
    const { cache, listed, change } = tree()
    cache.list(1 as Ino)
    await settle()
    expect(listed).toEqual([1, 10, 11, 12, 13])
    change() // an unlink, say
    cache.list(1 as Ino)
    await settle()
    expect(listed).toEqual([1, 10, 11, 12, 13, 1]) // listed again, its subdirectories not
    cache.list(1 as Ino)
    expect(listed).toHaveLength(6) // still kept while nothing else changed
  })
})

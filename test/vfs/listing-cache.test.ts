// Directory listings kept while nothing changed, and subdirectories listed ahead for a walk;
// not ahead while the tree is being changed (an rm -rf), which drops them before the walk comes.
import { describe, expect, it } from 'vitest'
import { ListingCache, type ListedEntry } from '../../lib/vfs/listing-cache.ts'
import { Kind } from '../../lib/meta/ops.ts'
import type { Ino } from '../../lib/ports.ts'
import type { Stat } from '../../lib/vfs/vfs.ts'

const turn = () => new Promise((resolve) => setImmediate(resolve))

/** A tree of directories 1 -> 10..13 -> files; records every listing made from the "database". */
function tree () {
  const listed: number[] = []
  let stamp = 0
  const entry = (ino: number, kind: Kind): ListedEntry => ({ name: Buffer.from(`n${ino}`), ino: ino as Ino, kind, stat: {} as Stat })
  const cache = new ListingCache({
    list: (dir) => {
      listed.push(dir)
      return dir === 1 ? [10, 11, 12, 13].map((i) => entry(i, Kind.Dir)) : [entry(dir * 100, Kind.File)]
    },
    stamp: () => stamp
  })
  return { cache, listed, change: () => { stamp++ } }
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

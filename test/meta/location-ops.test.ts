// Location records on the wire: every format a peer may meet decodes, and a record without
// adopted stripes is still written in the format the version before reads.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import c from 'compact-encoding'
import { PeerMarkState, decodeLocations, encodeLocations, locationRecord } from '../../lib/meta/location-ops.ts'

const stripe = () => ({ chunk: randomBytes(32), scheme: 'rs:3+2', size: 1040, shards: [{ shard: randomBytes(32), peer: randomBytes(32) }, { shard: randomBytes(32), peer: null }] })

describe('location records', () => {
  it('round-trip every part, adopted stripes included', () => {
    const record = locationRecord({
      moves: [{ chunk: randomBytes(32), scheme: 'rs:3+2', index: 4, shard: randomBytes(32), peer: null }],
      placed: [stripe()],
      released: [{ chunk: randomBytes(32), scheme: 'mirror:2', asOf: { ms: 1234, count: 5 } }],
      marks: [{ peer: randomBytes(32), state: PeerMarkState.Draining }],
      adopted: [stripe(), stripe()]
    })
    expect(decodeLocations(encodeLocations(record))).toEqual(record)
  })

  it('writes format 2 when nothing is adopted (older peers read it), format 3 otherwise', () => {
    const plain = encodeLocations(locationRecord({ placed: [stripe()] }))
    expect(c.decode(c.uint, plain.subarray(0, 1))).toBe(2)
    expect(decodeLocations(plain).adopted).toEqual([])
    const adopted = encodeLocations(locationRecord({ adopted: [stripe()] }))
    expect(c.decode(c.uint, adopted.subarray(0, 1))).toBe(3)
  })
})

import { describe, expect, it } from 'vitest'
import { meshCapacity } from '../../lib/data/mesh-capacity.ts'
import { parseScheme } from '../../lib/codec/parse-scheme.ts'
import type { PeerId, PeerInfo } from '../../lib/ports.ts'

function peer (i: number, capacity: number, used: number): PeerInfo {
  return { id: String(i).padStart(64, '0') as PeerId, capacity, used, free: capacity - used, version: 't', local: false, rttMs: 1, lastSeen: 0 }
}

describe('meshCapacity', () => {
  it('scales raw space by k/n', () => {
    const peers = Array.from({ length: 5 }, (_, i) => peer(i, 1000, 100))
    expect(meshCapacity(peers, parseScheme('rs:3+2'))).toEqual({ total: 3000, free: 2700 })
    expect(meshCapacity(peers, parseScheme('mirror:3'))).toEqual({ total: 1666, free: 1500 })
  })

  it('has no free space when fewer peers than a stripe needs have room', () => {
    const peers = [peer(0, 1000, 0), peer(1, 1000, 0), peer(2, 1000, 1000), peer(3, 1000, 1000), peer(4, 1000, 1000)]
    expect(meshCapacity(peers, parseScheme('rs:3+2')).free).toBe(0)
    expect(meshCapacity(peers.slice(0, 2), parseScheme('rs:3+2')).free).toBe(0)
  })

  it('ignores peers that contribute no space', () => {
    const peers = [...Array.from({ length: 5 }, (_, i) => peer(i, 1000, 0)), peer(9, 0, 0)]
    expect(meshCapacity(peers, parseScheme('rs:3+2'))).toEqual({ total: 3000, free: 3000 })
  })
})

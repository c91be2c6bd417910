// The state message as peers of every version wrote it: newer fields are optional at its end.
import { describe, expect, it } from 'vitest'
import c from 'compact-encoding'
import * as m from '../../peers/messages.ts'

describe('state message', () => {
  it('carries the zone, and reads messages from peers that send no zone or no peer list', () => {
    const full = { capacity: 1000, used: 10, free: 990, version: 'meshfs 0.1.0', sees: [Buffer.alloc(32, 7)], zone: 'rack-2' }
    const decoded = c.decode(m.stateMessage, c.encode(m.stateMessage, full))
    expect({ ...decoded, sees: decoded.sees.map((id) => Buffer.from(id).toString('hex')) }).toEqual({ ...full, sees: [Buffer.alloc(32, 7).toString('hex')] })

    const state = { start: 0, end: 0, buffer: null as unknown as Buffer }
    c.uint.preencode(state, 1000); c.uint.preencode(state, 10); c.uint.preencode(state, 990); c.string.preencode(state, 'old')
    state.buffer = Buffer.alloc(state.end)
    c.uint.encode(state, 1000); c.uint.encode(state, 10); c.uint.encode(state, 990); c.string.encode(state, 'old')
    expect(c.decode(m.stateMessage, state.buffer)).toEqual({ capacity: 1000, used: 10, free: 990, version: 'old', sees: [], zone: '' })
  })
})

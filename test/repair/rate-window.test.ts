import { describe, expect, it } from 'vitest'
import { RateWindow } from '../../lib/repair/rate-window.ts'

describe('RateWindow', () => {
  it('gives the change per second over the window, only for counters it saw twice', () => {
    let now = 0
    const window = new RateWindow(60_000, () => now)
    window.add(new Map([['bytes', 0], ['left:a', 100]]))
    expect(window.rate('bytes')).toBe(null)
    now = 10_000
    window.add(new Map([['bytes', 5000], ['left:a', 80], ['left:b', 50]]))
    expect(window.rate('bytes')).toBe(500)
    expect(window.rate('left:a')).toBe(-2)
    expect(window.rate('left:b')).toBe(null)
    now = 100_000 // the first samples leave the window
    window.add(new Map([['bytes', 5000], ['left:b', 20]]))
    expect(window.rate('bytes')).toBe(0)
    expect(window.rate('left:b')).toBeCloseTo(-30 / 90)
  })
})

import { parseScheme } from '../codec/parse-scheme.ts'
import { decodable, type RedundancyScheme } from '../codec/scheme.ts'

/** Stripes by how close to loss they are (status). */
export interface StripeHealth {
  stripes: number
  /** All n shards available, on n distinct peers. */
  healthy: number
  /** All n shards available, but some peer holds several (fewer peers than shards): one loss costs more. */
  underProtected: number
  /** Some shards missing, none of the losses below. */
  degraded: number
  /** One more loss could make it unreadable (rs: exactly k left). */
  atRisk: number
  /** The shards left do not decode: unreadable until a peer comes back. */
  lost: number
}

export function schemeOf (name: string): RedundancyScheme | null {
  try {
    return parseScheme(name)
  } catch {
    return null // a scheme this version does not know: leave it to peers that do
  }
}

/**
 * How close to loss a stripe is, from the shards still served: lost if they do not decode, at
 * risk if losing one more of them could stop them decoding (rs: exactly k left), else degraded.
 */
export function fragility (scheme: RedundancyScheme, alive: boolean[]): 'lost' | 'atRisk' | 'degraded' {
  if (!decodable(scheme, alive)) return 'lost'
  const oneMore = alive.some((up, i) => up && !decodable(scheme, alive.map((a, j) => a && j !== i)))
  return oneMore ? 'atRisk' : 'degraded'
}

import { signingKeyPair, type SigningKeyPair } from '../../crypto/signing.ts'
import { HybridClock } from './hlc.ts'
import { EnvelopeKind, sealEnvelope } from './op-envelope.ts'
import type { OpStore } from './op-store.ts'
import { encodeLocations, locationRecord, type LocationRecord } from './location-ops.ts'

/**
 * The log of shard moves a peer makes (repair, drain): needs only the storage capability. Its
 * records go out through the op store like every op and change where members look for shards.
 */
export class LocationWriter {
  readonly writer: Buffer
  private readonly signer: SigningKeyPair
  private readonly clock: HybridClock

  constructor (private readonly ops: OpStore, private readonly locationKey: Uint8Array, seed: Uint8Array) {
    this.signer = signingKeyPair(seed)
    this.writer = this.signer.publicKey
    ops.addWriter(this.signer)
    this.clock = new HybridClock(Date.now, ops.maxHlc())
  }

  /** Records moves, marks... (one envelope), stores it and hands it to the mesh. */
  append (parts: Partial<LocationRecord>): void {
    const seq = this.ops.head(this.writer) + 1
    const envelope = sealEnvelope(this.locationKey, this.signer, seq, this.clock.tick(), encodeLocations(locationRecord(parts)), EnvelopeKind.Locations)
    this.ops.add(envelope.bytes)
  }
}

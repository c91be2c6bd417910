import type Protomux from 'protomux'
import type { Channel, Message } from 'protomux'
import type { SecretStream } from 'hyperswarm'
import { verifyWriterProof } from '../crypto/writer-proof.ts'
import { isMeshError } from '../lib/errors.ts'
import type { OpLog, PeerId } from '../lib/ports.ts'
import * as m from './op-messages.ts'
import { short } from './peer-connection.ts'

/** How long a local op may wait for others to leave with it. */
const PUSH_DELAY_MS = 10

export interface OpSyncStats {
  /** Envelopes received that were new here, and their bytes. */
  received: number
  receivedBytes: number
  sent: number
  /** Envelopes refused as malformed or forged. */
  rejected: number
}

/**
 * Replicates every writer's op log over the mesh, no peer in charge: on connect both sides say
 * how far they have each writer and send each other what is missing; a new op is pushed to
 * every connected peer, and what arrives is passed on by the same exchange of heads, so ops
 * travel through peers that are not directly connected. Ops are opaque here: storage-only
 * peers relay what they cannot read.
 */
export class OpSync {
  readonly stats: OpSyncStats = { received: 0, receivedBytes: 0, sent: 0, rejected: 0 }
  private readonly links = new Set<OpLink>()
  private readonly unsubscribe: () => void

  private changed = false
  private readonly timer: NodeJS.Timeout
  /** Ops made here this turn of the event loop, pushed together when it ends. */
  private outbox: Uint8Array[] = []

  constructor (readonly oplog: OpLog, readonly log: (line: string) => void = () => {}, announceMs = 500) {
    // Ops made here are pushed at once to every connected peer. Ops received are not pushed on
    // (with every peer connected to every other, that would send each op n times to each):
    // instead, when something new arrived, peers tell each other how far they have each writer,
    // twice a second, and send only what the other lacks, so ops still cross peers that are not
    // directly connected.
    // Local changes of the next few milliseconds (tar -x makes several per file) go as one
    // message per peer, which the peer stores in one transaction: far fewer packets and commits.
    this.unsubscribe = oplog.onAdded((envelope, _writer, _seq, source) => {
      if (source instanceof OpLink) { this.changed = true; return }
      if (this.outbox.length === 0) setTimeout(() => this.pushOutbox(), PUSH_DELAY_MS)
      this.outbox.push(envelope)
    })
    this.timer = setInterval(() => {
      if (!this.changed) return
      this.changed = false
      for (const link of this.links) link.announce()
    }, announceMs)
    this.timer.unref()
  }

  private pushOutbox (): void {
    const envelopes = this.outbox
    this.outbox = []
    for (let from = 0; from < envelopes.length;) {
      const to = batchEnd(envelopes, from)
      const batch = envelopes.slice(from, to)
      for (const link of this.links) link.push(batch)
      from = to
    }
  }

  /** Starts replication on an authenticated connection's multiplexer. */
  attach (mux: Protomux, peer: PeerId): void {
    const link = new OpLink(this, mux, peer)
    if (link.opened !== null) this.links.add(link)
  }

  detach (link: OpLink): void {
    this.links.delete(link)
  }

  get connected (): number {
    return this.links.size
  }

  close (): void {
    clearInterval(this.timer)
    this.pushOutbox() // ops made just before stopping still leave now
    this.unsubscribe()
    for (const link of this.links) link.close()
    this.links.clear()
  }
}

class OpLink {
  readonly opened: Channel | null
  private readonly sendHeads: Message<m.Heads>
  private readonly sendOps: Message<m.Ops>
  private readonly sendWant: Message<m.Want>
  /** Writers asked for and not yet answered (one want at a time per writer). */
  private readonly wanting = new Set<string>()
  /** Writers (hex) that proved their key on this connection. */
  private readonly provenWriters = new Set<string>()
  private readonly fromWriter = (writer: Uint8Array): boolean => this.provenWriters.has(Buffer.from(writer).toString('hex'))

  constructor (private readonly sync: OpSync, mux: Protomux, readonly peer: PeerId) {
    const stream = mux.stream as SecretStream
    const channel = mux.createChannel<m.OpsOpen>({
      protocol: m.OPS_PROTOCOL,
      handshake: m.opsOpen,
      onopen: (open) => {
        // Writers that proved their key here: their own envelopes need no signature check (see crypto/writer-proof.ts).
        for (const { writer, proof } of open.writers) {
          if (verifyWriterProof(writer, proof, stream.handshakeHash, stream.remotePublicKey)) this.provenWriters.add(Buffer.from(writer).toString('hex'))
        }
        this.sendHeads.send({ heads: this.sync.oplog.heads() })
      },
      onclose: () => sync.detach(this)
    })
    this.opened = channel
    if (channel === null) {
      sync.log(`peer ${short(peer)}: ops channel already open`)
      this.sendHeads = this.sendOps = this.sendWant = null as never
      return
    }
    this.sendHeads = channel.addMessage({ encoding: m.heads, onmessage: (msg) => this.onheads(msg) })
    this.sendOps = channel.addMessage({ encoding: m.ops, onmessage: (msg) => this.onops(msg) })
    this.sendWant = channel.addMessage({ encoding: m.want, onmessage: (msg) => this.sendSince(msg.writer, msg.after) })
    channel.open({ writers: sync.oplog.writerProofs(stream.handshakeHash, stream.publicKey) })
  }

  push (envelopes: Uint8Array[]): void {
    if (!this.opened?.opened) return
    this.sendOps.send({ envelopes })
    this.sync.stats.sent += envelopes.length
  }

  close (): void {
    this.opened?.close()
  }

  announce (): void {
    if (this.opened?.opened) this.sendHeads.send({ heads: this.sync.oplog.heads() })
  }

  private onheads (msg: m.Heads): void {
    const theirs = new Map(msg.heads.map((h) => [Buffer.from(h.writer).toString('hex'), h.seq]))
    for (const mine of this.sync.oplog.heads()) {
      const key = Buffer.from(mine.writer).toString('hex')
      const seq = theirs.get(key) ?? 0
      if (mine.seq > seq) this.sendSince(mine.writer, seq)
    }
    for (const h of msg.heads) {
      if (h.seq > this.sync.oplog.head(h.writer)) this.want(h.writer)
    }
  }

  private onops (msg: m.Ops): void {
    this.sync.oplog.transaction(() => this.addAll(msg.envelopes))
  }

  private addAll (envelopes: Uint8Array[]): void {
    for (const envelope of envelopes) {
      let added
      try {
        added = this.sync.oplog.add(envelope, this, this.fromWriter)
      } catch (err) {
        // A bad envelope may be relayed in good faith: count it and keep the connection.
        this.sync.stats.rejected++
        if (!isMeshError(err)) throw err
        continue
      }
      if (added.result === 'gap') { this.want(added.writer); continue }
      this.wanting.delete(Buffer.from(added.writer).toString('hex'))
      if (added.result === 'added') {
        this.sync.stats.received++
        this.sync.stats.receivedBytes += envelope.byteLength
      }
    }
  }

  private want (writer: Uint8Array): void {
    const key = Buffer.from(writer).toString('hex')
    if (this.wanting.has(key)) return
    this.wanting.add(key)
    this.sendWant.send({ writer, after: this.sync.oplog.head(writer) })
  }

  /** Everything of writer after seq, in bounded batches. */
  private sendSince (writer: Uint8Array, after: number): void {
    for (let from = after; ;) {
      const batch = this.sync.oplog.since(writer, from, m.BATCH_OPS)
      const n = batchEnd(batch, 0)
      if (n === 0) return
      this.sendOps.send({ envelopes: batch.slice(0, n) })
      this.sync.stats.sent += n
      from += n
      if (batch.length < m.BATCH_OPS && n === batch.length) return
    }
  }
}

/** Where one message's batch starting at from ends: at most BATCH_OPS envelopes and BATCH_BYTES (at least one). */
function batchEnd (envelopes: Uint8Array[], from: number): number {
  let bytes = 0
  let to = from
  while (to < envelopes.length && to - from < m.BATCH_OPS && (to === from || bytes + envelopes[to]!.byteLength <= m.BATCH_BYTES)) bytes += envelopes[to++]!.byteLength
  return to
}

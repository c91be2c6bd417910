// Interfaces between layers. peers/ implements ShardNetwork; lib/data implements ShardStorage.
// lib/ never imports peers/: the composition root (mount.ts) wires them together.

/** Hex of a peer's Noise public key (32 bytes). */
export type PeerId = string & { readonly __brand: 'PeerId' }
/** Hex of BLAKE2b-256 over the shard's bytes: anyone can verify a shard, nobody learns its content. */
export type ShardId = string & { readonly __brand: 'ShardId' }
/** Hex of a keyed hash of the chunk's plaintext (dedup inside one mesh only). */
export type ChunkId = string & { readonly __brand: 'ChunkId' }
/** A filesystem object's number; the root directory is 1. */
export type Ino = number & { readonly __brand: 'Ino' }

export interface CallOptions {
  signal?: AbortSignal
  /** Milliseconds before the call fails with a TIMEOUT MeshError. */
  timeoutMs?: number
}

export interface StoreUsage {
  capacity: number
  used: number
  free: number
  shards: number
}

/** A peer's local store of opaque shards, named by their hash. */
export interface ShardStorage {
  /**
   * Stores data under id. NO_SPACE past the quota; CORRUPT if data does not hash to id.
   * buffered: durable later (sync(), or the store's write-back interval), not before resolving.
   */
  put (id: ShardId, data: Uint8Array, opts?: { buffered?: boolean }): Promise<void>
  /** Makes every buffered put so far durable. */
  sync? (): Promise<void>
  /** Verified bytes. NOT_FOUND if absent; CORRUPT (and counted) if the file no longer hashes to id. */
  get (id: ShardId): Promise<Uint8Array>
  has (id: ShardId): Promise<boolean>
  /** True if something was deleted. unlessPutSince: not if it was put at or after that time (ms). */
  delete (id: ShardId, opts?: { unlessPutSince?: number }): Promise<boolean>
  /** When the shard was last put (a put of bytes already here counts), or null if absent. */
  lastPut? (id: ShardId): Promise<number | null>
  list (): Promise<ShardId[]>
  usage (): StoreUsage
  /** How many corrupt shards reads have found (and removed from service). */
  readonly corruptions: number
  /** The disk's failed operations and fsync times, where the store watches them. */
  readonly disk?: { report (): DiskReport }
}

/** What a store's disk has shown lately: the signs of a disk that is about to fail. */
export interface DiskReport {
  /** Failed disk operations (EIO, EROFS, ...) since start: not "not found", not "disk full". */
  ioErrors: number
  /** The last of them, as "EIO: writing shard ...". */
  lastIoError: string | null
  /** Median time of the last 16 durable writes (write, fsync, folder fsync), ms. */
  recentSyncMs: number | null
  /** Median time of up to 512 durable writes before those, ms: what this disk usually takes. */
  usualSyncMs: number | null
}

/** What a peer announces about itself (gossiped in the state message). */
export interface PeerState {
  capacity: number
  used: number
  free: number
  version: string
  /**
   * The failure domain the peer shares a fate with (a machine, rack or site): shards of one
   * stripe go to distinct zones first. Empty or absent: a zone of its own.
   */
  zone?: string
}

export interface PeerInfo extends PeerState {
  id: PeerId
  /** True for this process's own store. */
  local: boolean
  /** Smoothed round-trip time in ms (0 for the local peer). */
  rttMs: number
  /** Date.now() of the last message from this peer. */
  lastSeen: number
  /** Requests this process sent the peer that it has not answered yet: a busy peer or link. */
  waiting?: number
}

/** The mesh as the data layer sees it: who is live, and shard calls on any of them (self included). */
export interface ShardNetwork {
  readonly self: PeerId
  /** Live peers that proved the mesh key, self included. */
  peers (): PeerInfo[]
  /** buffered: the peer acknowledges once written, fsyncs later (sync, or within a second). */
  put (peer: PeerId, id: ShardId, data: Uint8Array, opts?: CallOptions & { buffered?: boolean }): Promise<void>
  /** Makes every buffered put the peer took durable. */
  sync? (peer: PeerId, opts?: CallOptions): Promise<void>
  /** Bytes as the peer sent them: the caller verifies them against id. */
  get (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<Uint8Array>
  has (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<boolean>
  delete (peer: PeerId, id: ShardId, opts?: CallOptions): Promise<boolean>
  /** When each peer was last heard of, by this peer or by live peers that hear it (gossip). */
  witnessed? (): Map<PeerId, number>
}

/** The last op a peer holds of one writer's log (ops of a writer are numbered 1, 2, 3, ...). */
export interface WriterHead {
  writer: Uint8Array
  seq: number
}

export type OpAddResult = 'added' | 'duplicate' | 'gap'

export interface WriterProof { writer: Uint8Array, proof: Uint8Array }

/**
 * The metadata op logs every peer keeps and relays (lib/meta implements it; peers/ syncs it).
 * Envelopes are opaque here: signed, and sealed with the metadata key.
 */
export interface OpLog {
  heads (): WriterHead[]
  /** The last op held of writer (0: none). */
  head (writer: Uint8Array): number
  /** Envelopes of writer after seq, oldest first, at most limit of them. */
  since (writer: Uint8Array, afterSeq: number, limit: number): Uint8Array[]
  /**
   * Checks and keeps one envelope. 'gap' means an earlier op of that writer is missing (ask for it).
   * Throws PROTOCOL for a malformed or forged envelope. fromWriter: true for writers that proved
   * their key on the connection the envelope came by (crypto/writer-proof.ts): no signature check.
   */
  add (envelope: Uint8Array, source?: unknown, fromWriter?: (writer: Uint8Array) => boolean): { result: OpAddResult, writer: Uint8Array, seq: number }
  /** Proofs (crypto/writer-proof.ts) for a connection, one per writer whose ops this process makes. */
  writerProofs (handshakeHash: Uint8Array, senderPublicKey: Uint8Array): WriterProof[]
  /** Runs fn in one storage transaction (a batch of add() calls costs one sync to disk). */
  transaction<T> (fn: () => T): T
  /** Calls back for every envelope kept from now on (local ops and received ones), with add()'s source. */
  onAdded (listener: (envelope: Uint8Array, writer: Uint8Array, seq: number, source: unknown) => void): () => void
}

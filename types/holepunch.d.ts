// Minimal typings for the Holepunch packages meshfs uses (they ship none).

declare module 'hyperdht' {
  import { EventEmitter } from 'node:events'
  export interface KeyPair { publicKey: Buffer, secretKey: Buffer }
  export interface NodeAddress { host: string, port: number }
  export interface DHTOptions {
    bootstrap?: Array<NodeAddress | string>
    host?: string
    port?: number
    ephemeral?: boolean
    firewalled?: boolean
    keyPair?: KeyPair
  }
  export default class HyperDHT extends EventEmitter {
    constructor (opts?: DHTOptions)
    static keyPair (seed?: Uint8Array): KeyPair
    ready (): Promise<void>
    fullyBootstrapped (): Promise<void>
    address (): { host: string, port: number }
    destroy (opts?: { force?: boolean }): Promise<void>
    destroyed: boolean
  }
}

declare module 'hyperdht/testnet.js' {
  import type HyperDHT from 'hyperdht'
  export interface Testnet {
    nodes: HyperDHT[]
    bootstrap: Array<{ host: string, port: number }>
    createNode (opts?: object): HyperDHT
    destroy (): Promise<void>
  }
  export default function createTestnet (size?: number, opts?: { host?: string, port?: number, teardown?: unknown }): Promise<Testnet>
}

declare module '@hyperswarm/testnet' {
  export { default } from 'hyperdht/testnet.js'
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'
  import type HyperDHT from 'hyperdht'
  import type { KeyPair } from 'hyperdht'

  export interface SecretStream extends Duplex {
    publicKey: Buffer
    remotePublicKey: Buffer
    handshakeHash: Buffer
    isInitiator: boolean
    rawStream: unknown
  }
  export interface PeerInfo { publicKey: Buffer, ban (banned?: boolean): void }
  export interface PeerDiscovery { flushed (): Promise<void>, destroy (): Promise<void>, refresh (opts?: { client?: boolean, server?: boolean }): Promise<void> }
  export interface SwarmOptions {
    keyPair?: KeyPair
    dht?: HyperDHT
    bootstrap?: Array<{ host: string, port: number } | string>
    maxPeers?: number
    firewall?: (remotePublicKey: Buffer) => boolean
  }
  export default class Hyperswarm extends EventEmitter {
    constructor (opts?: SwarmOptions)
    keyPair: KeyPair
    dht: HyperDHT
    connections: Set<SecretStream>
    destroyed: boolean
    join (topic: Buffer, opts?: { server?: boolean, client?: boolean }): PeerDiscovery
    leave (topic: Buffer): Promise<void>
    joinPeer (publicKey: Buffer): void
    leavePeer (publicKey: Buffer): void
    flush (): Promise<void>
    listen (): Promise<void>
    destroy (opts?: { force?: boolean }): Promise<void>
    on (event: 'connection', listener: (conn: SecretStream, info: PeerInfo) => void): this
    on (event: string, listener: (...args: any[]) => void): this
  }
}

declare module 'protomux' {
  import type { Encoder } from 'compact-encoding'
  export interface Message<T> { send (value: T): boolean, type: number }
  export interface Channel {
    readonly opened: boolean
    readonly closed: boolean
    readonly handshake: unknown
    userData: unknown
    addMessage<T> (opts: { encoding: Encoder<T>, onmessage?: (value: T, channel: Channel) => unknown }): Message<T>
    open (handshake?: unknown): void
    close (): void
    cork (): void
    uncork (): void
  }
  export interface ChannelOptions<H> {
    protocol: string
    id?: Buffer | null
    unique?: boolean
    handshake?: Encoder<H>
    messages?: unknown[]
    onopen?: (handshake: H, channel: Channel) => unknown
    onclose?: (isRemote: boolean, channel: Channel) => unknown
    ondestroy?: (channel: Channel) => unknown
  }
  export default class Protomux {
    static from (stream: unknown, opts?: object): Protomux
    stream: any
    createChannel<H = unknown> (opts: ChannelOptions<H>): Channel | null
    destroy (err?: Error): void
  }
}

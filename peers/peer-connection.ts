import Protomux, { type Channel, type Message } from 'protomux'
import type { SecretStream } from 'hyperswarm'
import { authProof, verifyAuthProof } from '../crypto/peer-auth.ts'
import { MeshError, errors } from '../lib/errors.ts'
import type { PeerId, PeerState } from '../lib/ports.ts'
import * as m from './messages.ts'

/** Incoming requests one peer may have outstanding; more is abuse and closes the connection. */
const MAX_INFLIGHT = 256
/**
 * Requests this side has out at once: half the limit, because a cancelled request still counts
 * at the other side until its handler stops.
 */
const SEND_WINDOW = MAX_INFLIGHT / 2
const RTT_SMOOTHING = 0.2

export interface CallResult { status: m.Status, data: Uint8Array | null, message: string }
export type RequestHandler = (req: m.Request, signal: AbortSignal) => Promise<CallResult>

interface Pending {
  resolve (res: m.Response): void
  reject (err: Error): void
  cleanup (): void
}

/**
 * One authenticated connection to another mesh peer: the shard protocol over a protomux channel.
 * Nothing but the hello is accepted until the remote proved the auth key for this very connection;
 * any malformed or unexpected message closes the connection (never the process).
 */
export class PeerConnection {
  readonly id: PeerId
  /** The connection's multiplexer: other protocols open their channels on it once authenticated. */
  readonly mux: Protomux
  state: PeerState | null = null
  authenticated = false
  closed = false
  rttMs = 0
  lastSeen = Date.now()
  /** The peers this one said it hears from, in its last state message. */
  sees: PeerId[] = []

  private readonly channel: Channel
  private readonly sendRequest: Message<m.Request>
  private readonly sendResponse: Message<m.Response>
  private readonly sendCancel: Message<m.Cancel>
  private readonly sendState: Message<m.StateMessage>
  private readonly pending = new Map<number, Pending>()
  private readonly queued: Array<(() => void) & { reject?: (err: Error) => void }> = []
  private readonly inflight = new Map<number, AbortController>()
  private nextId = 1
  private readonly authTimer: NodeJS.Timeout

  constructor (
    private readonly conn: SecretStream,
    private readonly authKey: Uint8Array,
    private readonly handler: RequestHandler,
    private readonly events: {
      onready (peer: PeerConnection): void
      onclose (peer: PeerConnection, reason: string): void
      onstate (peer: PeerConnection): void
    }
  ) {
    this.id = conn.remotePublicKey.toString('hex') as PeerId
    let cause = ''
    // Reported through 'close'; an error must never reach the process.
    conn.on('error', (err: Error & { code?: string }) => { cause = err?.code ?? err?.message ?? '' })
    conn.on('close', () => this.teardown(cause ? `connection closed (${cause})` : 'connection closed'))

    const mux = Protomux.from(conn)
    this.mux = mux
    const channel = mux.createChannel<m.Hello>({
      protocol: m.PROTOCOL,
      handshake: m.hello,
      onopen: (hello) => this.onhello(hello),
      onclose: () => this.teardown('channel closed')
    })
    if (channel === null) throw errors.protocol('duplicate shard channel')
    this.channel = channel
    this.sendRequest = channel.addMessage({ encoding: m.request, onmessage: (req) => this.onrequest(req) })
    this.sendResponse = channel.addMessage({ encoding: m.response, onmessage: (res) => this.onresponse(res) })
    this.sendCancel = channel.addMessage({ encoding: m.cancel, onmessage: (msg) => this.oncancel(msg) })
    this.sendState = channel.addMessage({ encoding: m.stateMessage, onmessage: (msg) => this.onstate(msg) })
    channel.open({ version: m.PROTOCOL_VERSION, proof: authProof(authKey, conn.handshakeHash, conn.publicKey) })
    // A connection that stays silent is dropped early (Hyperswarm then dials again), and a peer
    // that never proves the key cannot hold a connection open.
    this.authTimer = setTimeout(() => {
      if (this.authenticated || this.closed) return
      this.conn.destroy()
      this.teardown(`no authentication within ${AUTH_TIMEOUT_MS} ms (${conn.isInitiator ? 'outgoing' : 'incoming'})`)
    }, AUTH_TIMEOUT_MS)
    this.authTimer.unref?.()
  }

  /**
   * Sends a request and waits for its response, bounded by timeoutMs and the signal. At most
   * SEND_WINDOW requests are out at once; more wait here, in order (a peer drops a connection
   * with more than MAX_INFLIGHT: a burst, such as the deletes of a removed tree, must not do it).
   */
  call (req: Omit<m.Request, 'id'>, opts: { signal?: AbortSignal, timeoutMs: number }): Promise<m.Response> {
    if (this.closed || !this.authenticated) return Promise.reject(errors.unavailable(`peer ${short(this.id)}`))
    if (opts.signal?.aborted) return Promise.reject(errors.aborted('shard request'))
    return new Promise<m.Response>((resolve, reject) => {
      let id = 0 // 0 while queued: not sent
      let started = 0
      const fail = (err: Error) => {
        pending.cleanup()
        if (id !== 0) this.sendCancel.send({ id })
        reject(err)
      }
      const onabort = () => fail(errors.aborted('shard request'))
      const timer = setTimeout(() => fail(errors.timeout(`request to peer ${short(this.id)}`, opts.timeoutMs)), opts.timeoutMs)
      const pending: Pending = {
        resolve: (res) => {
          pending.cleanup()
          this.observeRtt(performance.now() - started, req.op)
          resolve(res)
        },
        reject: (err) => { pending.cleanup(); reject(err) },
        cleanup: () => {
          clearTimeout(timer)
          opts.signal?.removeEventListener('abort', onabort)
          if (id === 0) {
            const at = this.queued.indexOf(send)
            if (at >= 0) this.queued.splice(at, 1)
          } else if (this.pending.delete(id)) this.sendQueued()
        }
      }
      const send = (): void => {
        id = this.nextId++
        started = performance.now()
        this.pending.set(id, pending)
        this.sendRequest.send({ id, ...req })
      }
      send.reject = pending.reject
      opts.signal?.addEventListener('abort', onabort, { once: true })
      this.queued.push(send)
      this.sendQueued()
    })
  }

  private sendQueued (): void {
    while (this.pending.size < SEND_WINDOW && this.queued.length > 0 && !this.closed) this.queued.shift()!()
  }

  /** Requests sent or queued and not answered yet. */
  get waiting (): number {
    return this.pending.size + this.queued.length
  }

  announce (state: m.StateMessage): void {
    if (this.authenticated && !this.closed) this.sendState.send(state)
  }

  /** Drops the connection for a protocol violation. */
  violation (reason: string): void {
    if (this.closed) return
    this.conn.destroy(errors.protocol(reason))
    this.teardown(`protocol violation: ${reason}`)
  }

  close (): void {
    if (this.closed) return
    this.conn.destroy()
    this.teardown('closed locally')
  }

  private onhello (hello: m.Hello): void {
    if (hello.version !== m.PROTOCOL_VERSION) return this.violation(`unsupported protocol version ${hello.version}`)
    if (!verifyAuthProof(this.authKey, this.conn.handshakeHash, this.conn.remotePublicKey, hello.proof)) {
      return this.violation('peer could not prove the mesh key')
    }
    this.authenticated = true
    clearTimeout(this.authTimer)
    this.lastSeen = Date.now()
    this.events.onready(this)
  }

  private onrequest (req: m.Request): void {
    if (!this.authenticated) return this.violation('request before authentication')
    if (this.inflight.size >= MAX_INFLIGHT) return this.violation(`more than ${MAX_INFLIGHT} requests in flight`)
    if (this.inflight.has(req.id)) return this.violation(`duplicate request id ${req.id}`)
    this.lastSeen = Date.now()
    const controller = new AbortController()
    this.inflight.set(req.id, controller)
    this.handler(req, controller.signal).then(
      (res) => res,
      (err: unknown) => ({ status: m.Status.Failed, data: null, message: (err as Error)?.message ?? 'failed' })
    ).then((res) => {
      this.inflight.delete(req.id)
      if (!controller.signal.aborted && !this.closed) this.sendResponse.send({ id: req.id, ...res })
    })
  }

  private onresponse (res: m.Response): void {
    if (!this.authenticated) return this.violation('response before authentication')
    this.lastSeen = Date.now()
    // A response to an id we no longer wait for is a late answer to a cancelled call: harmless.
    if (res.id >= this.nextId) return this.violation(`response to unknown request ${res.id}`)
    this.pending.get(res.id)?.resolve(res)
  }

  private oncancel (msg: m.Cancel): void {
    if (!this.authenticated) return this.violation('cancel before authentication')
    this.inflight.get(msg.id)?.abort()
  }

  private onstate (msg: m.StateMessage): void {
    if (!this.authenticated) return this.violation('state before authentication')
    // used may exceed capacity (a peer restarted with less than it holds); free never can.
    if (msg.free > msg.capacity || msg.version.length > 64 || msg.zone.length > 64 || msg.sees.length > m.MAX_SEES) return this.violation('implausible state message')
    this.sees = msg.sees.map((id) => Buffer.from(id).toString('hex') as PeerId)
    this.state = { capacity: msg.capacity, used: msg.used, free: msg.free, version: msg.version, zone: msg.zone }
    this.lastSeen = Date.now()
    this.events.onstate(this)
  }

  private observeRtt (ms: number, op: m.Op): void {
    // Only small requests measure the path; a put's time is mostly transfer.
    if (op === m.Op.Put || op === m.Op.PutBuffered || op === m.Op.Sync) return
    this.rttMs = this.rttMs === 0 ? ms : this.rttMs + RTT_SMOOTHING * (ms - this.rttMs)
  }

  private teardown (reason: string): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.authTimer)
    for (const controller of this.inflight.values()) controller.abort()
    this.inflight.clear()
    const gone = errors.unavailable(`peer ${short(this.id)} (${reason})`)
    for (const pending of [...this.pending.values()]) pending.reject(gone)
    for (const send of [...this.queued]) send.reject?.(gone)
    this.channel.close()
    this.conn.destroy()
    this.events.onclose(this, reason)
  }
}

/** How long a new connection may take to prove the mesh key. */
export const AUTH_TIMEOUT_MS = 10_000

export function short (id: string): string {
  return id.slice(0, 8)
}

export function statusError (status: m.Status, what: string, message: string): MeshError {
  switch (status) {
    case m.Status.NotFound: return errors.notFound(what)
    case m.Status.NoSpace: return errors.noSpace(what)
    case m.Status.Corrupt: return errors.corrupt(what)
    case m.Status.BadRequest: return errors.protocol(`${what}: ${message}`)
    default: return errors.io(`${what}: ${message}`)
  }
}

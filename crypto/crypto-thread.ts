import { Worker } from 'node:worker_threads'

/** A byte range of a buffer: offset, length. */
export type Region = [number, number]

interface Job {
  op: 'hash' | 'seal'
  [field: string]: unknown
}

interface Answer { seq: number, buffer: ArrayBuffer, hashes?: Uint8Array[], error?: string }

interface Pending { resolve: (answer: Answer) => void, reject: (err: Error) => void }

/** The thread could not do a job (it ended, or the job failed there); the buffer sent is gone. */
export class CryptoThreadError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'CryptoThreadError'
  }
}

/**
 * A worker thread that hashes (BLAKE2b) and seals (XChaCha20-Poly1305) big buffers, so the
 * process's JavaScript thread does not: in a 1 GiB write the mount's thread spent about 4 of
 * its 16 s there. A buffer goes to the thread and comes back without a copy (its ArrayBuffer
 * is moved, not cloned): the caller gets a new Buffer over the same memory, and must not touch
 * the old one meanwhile. Only whole ArrayBuffers move: a buffer must own all of its memory
 * (Buffer.allocUnsafeSlow, never a pooled slice).
 */
export class CryptoThread {
  private readonly worker: Worker
  private readonly pending = new Map<number, Pending>()
  private seq = 0
  private failed: CryptoThreadError | null = null
  private done = 0

  constructor () {
    // No TypeScript loader in the thread (crypto-worker.js is plain JavaScript, which bin/bundle.js
    // copies beside the bundle: found next to this module either way), so no 30 MB loader.
    this.worker = new Worker(new URL('./crypto-worker.js', import.meta.url), { execArgv: [] })
    this.worker.unref() // an idle thread keeps no process alive
    this.worker.on('message', (answer: Answer) => this.answered(answer))
    this.worker.on('error', (err) => this.fail(new CryptoThreadError(`the crypto thread failed: ${err.message}`)))
    this.worker.on('exit', (code) => this.fail(new CryptoThreadError(`the crypto thread exited (code ${code})`)))
  }

  /** Jobs done so far (hashes and seals). */
  get jobs (): number {
    return this.done
  }

  /** False once the thread failed: callers do the work themselves. */
  get usable (): boolean {
    return this.failed === null
  }

  /** BLAKE2b-256 of prefix (if any) followed by each region of buffer, keyed if key is given. */
  async hash (buffer: Buffer, regions: Region[], opts: { key?: Uint8Array, prefix?: Uint8Array } = {}): Promise<{ buffer: Buffer, hashes: Buffer[] }> {
    const answer = await this.run(buffer, { op: 'hash', regions, key: opts.key, prefix: opts.prefix })
    return { buffer: Buffer.from(answer.buffer), hashes: answer.hashes!.map((h) => Buffer.from(h.buffer, h.byteOffset, h.byteLength)) }
  }

  /** Encrypts bytes 0..length of buffer in place and writes the 16-byte tag after them. */
  async seal (buffer: Buffer, length: number, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array): Promise<Buffer> {
    return Buffer.from((await this.run(buffer, { op: 'seal', length, key, nonce, ad })).buffer)
  }

  /** Ends the thread (work under way fails). */
  async close (): Promise<void> {
    this.fail(new CryptoThreadError('the crypto thread was closed'))
    await this.worker.terminate()
  }

  private run (buffer: Buffer, job: Job): Promise<Answer> {
    if (this.failed) return Promise.reject(this.failed)
    if (buffer.byteOffset !== 0 || buffer.byteLength !== buffer.buffer.byteLength) {
      return Promise.reject(new RangeError('a buffer for the crypto thread must own all of its memory'))
    }
    const seq = ++this.seq
    const answer = new Promise<Answer>((resolve, reject) => this.pending.set(seq, { resolve, reject }))
    this.worker.postMessage({ seq, buffer: buffer.buffer, job }, [buffer.buffer as ArrayBuffer])
    return answer
  }

  private answered (answer: Answer): void {
    const pending = this.pending.get(answer.seq)
    if (!pending) return
    this.pending.delete(answer.seq)
    if (answer.error !== undefined) return pending.reject(new CryptoThreadError(`crypto thread: ${answer.error}`))
    this.done++
    pending.resolve(answer)
  }

  private fail (err: CryptoThreadError): void {
    this.failed ??= err
    for (const pending of this.pending.values()) pending.reject(this.failed)
    this.pending.clear()
  }
}

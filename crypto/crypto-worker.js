// The thread behind crypto/crypto-thread.ts: BLAKE2b and XChaCha20-Poly1305 over big buffers,
// off the process's main JavaScript thread. Plain JavaScript: it runs without the TypeScript
// loader (which cost each thread about 30 MB), in the bundle and from the sources alike.
// Generic steps only; what is hashed and sealed how (the chunk format) stays in chunk-seal.ts.
import { parentPort } from 'node:worker_threads'
import sodium from 'sodium-native'

const HASH_BYTES = 32

/**
 * A request: { seq, buffer (an ArrayBuffer moved here and back), job }, job one of
 *   { op: 'hash', regions: [[offset, length], ...], key?, prefix? }: BLAKE2b-256 of prefix and each region
 *   { op: 'seal', length, key, nonce, ad }: bytes 0..length encrypted in place, the 16-byte tag after them
 * The answer: { seq, buffer, hashes? } or { seq, buffer, error }.
 */
parentPort.on('message', ({ seq, buffer, job }) => {
  try {
    const bytes = new Uint8Array(buffer)
    if (job.op === 'hash') {
      const hashes = job.regions.map(([offset, length]) => {
        const out = new Uint8Array(HASH_BYTES)
        const parts = job.prefix ? [job.prefix, bytes.subarray(offset, offset + length)] : [bytes.subarray(offset, offset + length)]
        if (job.key) sodium.crypto_generichash_batch(out, parts, job.key)
        else sodium.crypto_generichash_batch(out, parts)
        return out
      })
      parentPort.postMessage({ seq, buffer, hashes }, [buffer])
    } else if (job.op === 'seal') {
      const message = bytes.subarray(0, job.length)
      const sealed = bytes.subarray(0, job.length + sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES)
      sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(sealed, message, job.ad, null, job.nonce, job.key)
      parentPort.postMessage({ seq, buffer }, [buffer])
    } else {
      throw new Error(`unknown job ${String(job.op)}`)
    }
  } catch (err) {
    parentPort.postMessage({ seq, buffer, error: String(err?.message ?? err) }, [buffer])
  }
})

declare module 'sodium-native' {
  type Buf = Uint8Array
  export const crypto_generichash_BYTES: number
  export const crypto_generichash_KEYBYTES: number
  export const crypto_kdf_KEYBYTES: number
  export const crypto_kdf_CONTEXTBYTES: number
  export const crypto_aead_xchacha20poly1305_ietf_KEYBYTES: number
  export const crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number
  export const crypto_aead_xchacha20poly1305_ietf_ABYTES: number
  export const crypto_sign_PUBLICKEYBYTES: number
  export const crypto_sign_SECRETKEYBYTES: number
  export const crypto_sign_SEEDBYTES: number
  export const crypto_sign_BYTES: number
  export function randombytes_buf (buf: Buf): void
  export function crypto_generichash (out: Buf, input: Buf, key?: Buf): void
  export function crypto_generichash_batch (out: Buf, inputs: Buf[], key?: Buf): void
  export function crypto_kdf_derive_from_key (out: Buf, subkeyId: number, ctx: Buf, key: Buf): void
  export function crypto_aead_xchacha20poly1305_ietf_encrypt (out: Buf, m: Buf, ad: Buf | null, nsec: null, npub: Buf, k: Buf): number
  export function crypto_aead_xchacha20poly1305_ietf_decrypt (out: Buf, nsec: null, c: Buf, ad: Buf | null, npub: Buf, k: Buf): number
  export function crypto_sign_keypair (pk: Buf, sk: Buf): void
  export function crypto_sign_seed_keypair (pk: Buf, sk: Buf, seed: Buf): void
  export function crypto_sign_detached (sig: Buf, m: Buf, sk: Buf): void
  export function crypto_sign_verify_detached (sig: Buf, m: Buf, pk: Buf): boolean
  export function sodium_memcmp (a: Buf, b: Buf): boolean
  export function sodium_malloc (size: number): Buf
}

import HyperDHT, { type NodeAddress } from 'hyperdht'

/** Parses "host:port" (as given to --bootstrap). */
export function parseBootstrap (text: string): NodeAddress {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim())
  const port = match ? Number(match[2]) : 0
  if (!match || port < 1 || port > 65535) throw new Error(`bootstrap "${text}" is not host:port`)
  return { host: match[1] as string, port }
}

export function isLoopback (host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1'
}

/**
 * A DHT node. With explicit bootstrap nodes it contacts only those; when they are all on
 * loopback it binds to 127.0.0.1 too (with the default 0.0.0.0 bind, peers on one host time out).
 * Without bootstrap nodes it uses the public HyperDHT.
 */
export function createDht (bootstrap?: NodeAddress[]): HyperDHT {
  if (!bootstrap || bootstrap.length === 0) return new HyperDHT()
  const loopback = bootstrap.every((node) => isLoopback(node.host))
  // On loopback every node is reachable: without firewalled: false a node starts out presumed
  // firewalled, and some connections between processes stall until a ~13 s stream timeout.
  return new HyperDHT({ bootstrap, ...(loopback ? { host: '127.0.0.1', firewalled: false } : {}) })
}

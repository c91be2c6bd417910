import createTestnet from '@hyperswarm/testnet'

export interface LocalTestnet {
  /** "host:port" of the bootstrap node, as given to --bootstrap. */
  bootstrap: string[]
  nodes: Array<{ host: string, port: number }>
  destroy (): Promise<void>
}

/** A DHT of `size` nodes on 127.0.0.1 only: tests never reach the public DHT. */
export async function startTestnet (size = 3): Promise<LocalTestnet> {
  const testnet = await createTestnet(size, { host: '127.0.0.1' })
  return {
    bootstrap: testnet.bootstrap.map((node) => `${node.host}:${node.port}`),
    nodes: testnet.bootstrap,
    destroy: () => testnet.destroy()
  }
}

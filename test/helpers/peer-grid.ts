import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { spawnMeshfs, waitForLine, exited } from './peer-process.ts'

export interface GridPeer {
  index: number
  id: string
  store: string
  process: ChildProcess
  alive: boolean
}

export interface GridOptions {
  count: number
  key: string
  bootstrap: string[]
  capacity?: string
  /** Extra arguments per peer index. */
  args?: (index: number) => string[]
}

/** N storage peers (`meshfs serve`), each a separate process with its own store. */
export class PeerGrid {
  readonly peers: GridPeer[] = []

  private constructor (readonly root: string, private readonly opts: GridOptions) {}

  static async start (opts: GridOptions): Promise<PeerGrid> {
    const grid = new PeerGrid(await mkdtemp(join(tmpdir(), 'meshfs-grid-')), opts)
    try {
      // The first peer announces before the others look it up, or discovery waits for a refresh.
      await grid.spawn(0)
      await Promise.all(Array.from({ length: opts.count - 1 }, (_, i) => grid.spawn(i + 1)))
    } catch (err) {
      await grid.stop()
      throw err
    }
    return grid
  }

  /** One more storage peer (new capacity joining a running mesh). */
  add (): Promise<GridPeer> {
    return this.spawn(this.peers.length)
  }

  /** Stops a peer (SIGTERM, as its user would) and starts it again on the same store, with a new capacity. */
  async restart (index: number, capacity: string): Promise<GridPeer> {
    const peer = this.peers[index]
    if (peer?.alive) {
      peer.process.kill('SIGTERM')
      await exited(peer.process)
    }
    return this.spawn(index, capacity)
  }

  private async spawn (index: number, capacity = this.opts.capacity ?? '1G'): Promise<GridPeer> {
    const store = join(this.root, `peer-${index}`)
    const child = spawnMeshfs([
      'serve', '--key', this.opts.key, '--store', store, '--capacity', capacity,
      ...this.opts.bootstrap.flatMap((b) => ['--bootstrap', b]),
      ...(this.opts.args?.(index) ?? [])
    ])
    const peer: GridPeer = { index, id: '', store, process: child, alive: true }
    this.peers[index] = peer
    child.once('exit', () => { peer.alive = false })
    const match = await waitForLine(child, /peer ([0-9a-f]{64}) ready/, 30_000)
    peer.id = match[1] as string
    return peer
  }

  /** kill -9: the peer gets no chance to say goodbye. */
  async kill (index: number): Promise<void> {
    const peer = this.peers[index]
    if (!peer || !peer.alive) return
    peer.process.kill('SIGKILL')
    await exited(peer.process)
  }

  async stop (): Promise<void> {
    await Promise.all(this.peers.map((p) => this.kill(p.index)))
    await rm(this.root, { recursive: true, force: true })
  }
}

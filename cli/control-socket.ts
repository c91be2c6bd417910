import { chmod, rm } from 'node:fs/promises'
import { createConnection, createServer, type Server } from 'node:net'
import { createInterface } from 'node:readline'

// The local control socket of a running peer (STORE/control.sock, mode 0600: only its owner can
// ask): `meshfs status` and `meshfs drain` talk to the peer through it. One JSON line asks, one
// JSON line answers: {"ok": value} or {"error": "message"}.

export type ControlHandler = (request: { cmd: string, [key: string]: unknown }) => unknown

export interface ControlServer { path: string, close (): Promise<void> }

export async function serveControl (path: string, handle: ControlHandler): Promise<ControlServer> {
  // A socket file left by a peer that was killed: nobody answers on it, so it goes.
  if (await answers(path)) throw new Error(`another meshfs peer is running on this store (it answers on ${path})`)
  await rm(path, { force: true })
  const server: Server = createServer((socket) => {
    socket.on('error', () => {}) // a client that went away: nothing to do
    const lines = createInterface({ input: socket })
    lines.once('line', (line) => {
      let reply: unknown
      try {
        reply = { ok: handle(JSON.parse(line) as { cmd: string }) }
      } catch (err) {
        reply = { error: (err as Error).message }
      }
      socket.end(JSON.stringify(reply) + '\n')
      lines.close()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => { server.off('error', reject); resolve() })
  })
  await chmod(path, 0o600)
  return {
    path,
    close: () => new Promise<void>((resolve) => server.close(() => { void rm(path, { force: true }).then(() => resolve()) }))
  }
}

/** Asks the peer behind path; fails with a message a user can act on. */
export async function callControl<T> (path: string, request: { cmd: string, [key: string]: unknown }, timeoutMs = 10_000): Promise<T> {
  const line = await new Promise<string>((resolve, reject) => {
    const socket = createConnection(path)
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`the meshfs peer at ${path} did not answer within ${timeoutMs / 1000} s`)) }, timeoutMs)
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
        ? new Error(`no meshfs peer is running with this store (nothing answers on ${path}); give its folder with --store`)
        : err)
    })
    socket.once('connect', () => socket.write(JSON.stringify(request) + '\n'))
    createInterface({ input: socket }).once('line', (answer) => { clearTimeout(timer); socket.end(); resolve(answer) })
  })
  const reply = JSON.parse(line) as { ok?: T, error?: string }
  if (reply.error !== undefined) throw new Error(reply.error)
  return reply.ok as T
}

async function answers (path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path)
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

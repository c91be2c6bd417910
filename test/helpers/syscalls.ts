import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** What a system call gave: its value, or the errno name it failed with. */
export type Result<T = unknown> = { ok: T } | { err: string }

// The script goes to python as -c text: a user other than root may not be able to read the checkout.
const SCRIPT = readFileSync(fileURLToPath(new URL('./syscalls.py', import.meta.url)), 'utf8')
// pyenv shims live in root's home, out of reach of other users: prefer the system python.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

/** A path argument: text, or raw bytes for names that are not UTF-8. */
export type PathArg = string | { hex: string }

/**
 * System calls made by a python process running as a given user (see syscalls.py): xattrs,
 * mmap, mkfifo, utimensat with UTIME_OMIT, and everything else, with errno names as results.
 */
export class Syscalls {
  private readonly replies: Array<(line: string) => void> = []
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.replies.shift()?.(line))
  }

  static start (user: { uid: number, gid: number } | null = null): Syscalls {
    const child = spawn(PYTHON, ['-c', SCRIPT], {
      cwd: '/', stdio: ['pipe', 'pipe', 'inherit'], ...(user ? { uid: user.uid, gid: user.gid } : {})
    })
    return new Syscalls(child)
  }

  /** One call; calls are answered in order. Throws only when the request itself is wrong. */
  call<T = unknown> (op: string, ...args: unknown[]): Promise<Result<T>> {
    const next = this.queue.then(() => new Promise<Result<T>>((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error(`syscall server exited (${this.child.exitCode})`))
      this.replies.push((line) => {
        const reply = JSON.parse(line) as Result<T> | { fail: string }
        if ('fail' in reply) reject(new Error(`${op}(${JSON.stringify(args)}): ${reply.fail}`))
        else resolve(reply)
      })
      this.child.stdin!.write(JSON.stringify({ op, args }) + '\n')
    }))
    this.queue = next.catch(() => {})
    return next
  }

  /** The value of a call that must succeed. */
  async must<T = unknown> (op: string, ...args: unknown[]): Promise<T> {
    const r = await this.call<T>(op, ...args)
    if ('err' in r) throw new Error(`${op}(${JSON.stringify(args)}) failed: ${r.err}`)
    return r.ok
  }

  stop (): void {
    this.child.stdin!.end()
    this.child.kill()
  }
}

export const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64')

import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { NODE_FLAGS } from '../../cli/node-flags.ts'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

const live = new Set<ChildProcess>()
// A failing test must not leave peer processes behind.
process.once('exit', () => { for (const child of live) child.kill('SIGKILL') })

/** Runs `meshfs ARGS` as a child process, as a user would (bin/meshfs.js: the bundle, built by the tests' setup). */
export function spawnMeshfs (args: string[]): ChildProcess {
  // MESHFS_PROFILE_DIR=dir: every child writes a CPU profile there when it exits (bench/profile-mount.ts),
  // run from the sources so that the profile names their files.
  const profileDir = process.env.MESHFS_PROFILE_DIR
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
  const child = spawn(process.execPath, [...NODE_FLAGS, ...profile, 'bin/meshfs.js', ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...(profileDir ? { MESHFS_FROM_SOURCE: '1' } : {}) }
  })
  live.add(child)
  child.once('exit', () => live.delete(child))
  // MESHFS_TEST_ECHO=1: every child's output on stderr, prefixed with its pid (debugging a test).
  if (process.env.MESHFS_TEST_ECHO) {
    const echo = (chunk: Buffer) => process.stderr.write(chunk.toString().replace(/^(?=.)/gm, `${new Date().toISOString().slice(14, 23)} [${child.pid}] `))
    child.stdout?.on('data', echo)
    child.stderr?.on('data', echo)
  }
  return child
}

/** Waits for a line of the child's stdout that matches; fails on exit or after timeoutMs. */
export function waitForLine (child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const ondata = (chunk: Buffer) => {
      out += chunk.toString()
      const match = pattern.exec(out)
      if (match) { done(); resolve(match) }
    }
    const onerr = (chunk: Buffer) => { err += chunk.toString() }
    const onexit = (code: number | null) => { done(); reject(new Error(`meshfs exited (${code}) before printing ${pattern}: ${err || out}`)) }
    const timer = setTimeout(() => { done(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; stdout: ${out} stderr: ${err}`)) }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      child.stdout?.off('data', ondata)
      child.stderr?.off('data', onerr)
      child.off('exit', onexit)
    }
    child.stdout?.on('data', ondata)
    child.stderr?.on('data', onerr)
    child.once('exit', onexit)
  })
}

/** Runs meshfs to completion and returns what it printed. */
export function runMeshfs (args: string[], timeoutMs = 30_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawnMeshfs(args)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`meshfs ${args.join(' ')} timed out`)) }, timeoutMs)
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

export function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

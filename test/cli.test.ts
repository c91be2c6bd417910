// The meshfs command line as a user runs it: real child processes.
import { describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runMeshfs, spawnMeshfs, waitForLine, exited } from './helpers/peer-process.ts'
import { parseMeshKey } from '../crypto/mesh-key.ts'

describe('meshfs CLI', () => {
  it('prints help and version', async () => {
    const help = await runMeshfs(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: meshfs <command>/)
    for (const command of ['init', 'serve']) expect(help.stdout).toContain(command)
    const version = await runMeshfs(['--version'])
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('describes every serve option', async () => {
    const help = await runMeshfs(['serve', '--help'])
    expect(help.code).toBe(0)
    for (const option of ['--key', '--store', '--capacity', '--bootstrap']) expect(help.stdout).toContain(option)
  })

  it('init prints a valid key alone on the first line', async () => {
    const init = await runMeshfs(['init'])
    expect(init.code).toBe(0)
    const first = init.stdout.split('\n')[0] as string
    expect(parseMeshKey(first)).toHaveLength(32)
  })

  it('refuses a mistyped key with one line and a non-zero exit', async () => {
    const init = await runMeshfs(['init'])
    const key = init.stdout.split('\n')[0] as string
    const typo = key.slice(0, 12) + (key[12] === 'a' ? 'b' : 'a') + key.slice(13)
    const dir = await mkdtemp(join(tmpdir(), 'meshfs-cli-'))
    try {
      const run = await runMeshfs(['serve', '--key', typo, '--store', dir, '--capacity', '1G', '--bootstrap', '127.0.0.1:1'])
      expect(run.code).toBe(2)
      expect(run.stderr.trim().split('\n')).toHaveLength(1)
      expect(run.stderr).toMatch(/checksum/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses unknown commands, options and bad sizes', async () => {
    expect((await runMeshfs(['frobnicate'])).code).toBe(2)
    const badOption = await runMeshfs(['serve', '--nope'])
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toMatch(/nope/)
    const init = await runMeshfs(['init'])
    const key = init.stdout.split('\n')[0] as string
    const badSize = await runMeshfs(['serve', '--key', key, '--store', '/tmp/x', '--capacity', 'lots'])
    expect(badSize.code).toBe(2)
    expect(badSize.stderr).toMatch(/size "lots"/)
  })

  it('demo starts a local mesh of 5 peer processes and Ctrl-C stops every one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshfs-demo-'))
    const demo = spawnMeshfs(['demo', '--dir', dir, '--capacity', '64M'])
    try {
      let out = ''
      demo.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
      await waitForLine(demo, /5 peers live/, 60_000)
      const pids = [...out.matchAll(/started \(pid (\d+)/g)].map((match) => Number(match[1]))
      expect(pids).toHaveLength(5)
      demo.kill('SIGINT')
      await exited(demo)
      expect(demo.exitCode).toBe(0)
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow() // no peer left running
    } finally {
      demo.kill('SIGKILL')
      await rm(dir, { recursive: true, force: true })
    }
  }, 90_000)
})

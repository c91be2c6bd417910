// The meshfs command line as a user runs it: real child processes.
import { describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { isMounted, unmount } from '../lib/fuse/mountpoint.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runMeshfs, spawnMeshfs, waitForLine, exited } from './helpers/peer-process.ts'
import { formatStorageCapability, parseMeshKey } from '../crypto/mesh-key.ts'
import { deriveMeshKeys } from '../crypto/key-hierarchy.ts'
import { MOUNT_OPTIONS } from '../cli/mount.ts'
import { SERVE_OPTIONS } from '../cli/serve.ts'
import { INVITE_OPTIONS } from '../cli/invite.ts'
import { parseSize } from '../cli/size.ts'

describe('meshfs CLI', () => {
  it('prints help and version', async () => {
    const help = await runMeshfs(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/Usage: meshfs <command>/)
    for (const command of ['init', 'serve']) expect(help.stdout).toContain(command)
    const version = await runMeshfs(['--version'])
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('describes every option of serve and mount in their --help', async () => {
    for (const [command, options] of [['serve', SERVE_OPTIONS], ['mount', MOUNT_OPTIONS], ['invite', INVITE_OPTIONS]] as const) {
      const help = await runMeshfs([command, '--help'])
      expect(help.code).toBe(0)
      for (const option of Object.keys(options)) expect(help.stdout, `${command} --${option}`).toContain(`--${option}`)
    }
    const top = await runMeshfs(['--help'])
    for (const command of ['init', 'invite', 'mount', 'serve', 'demo']) expect(top.stdout).toContain(`  ${command}`)
  })

  it('mount refuses a wrong key, a storage-only key and a missing mount point with one line', async () => {
    const init = await runMeshfs(['init'])
    const key = init.stdout.split('\n')[0] as string
    const dir = await mkdtemp(join(tmpdir(), 'meshfs-cli-'))
    try {
      const cases: Array<[string[], RegExp]> = [
        [['mount', join(dir, 'mnt'), '--key', key.slice(0, -3) + 'aaa', '--store', dir], /--key: /],
        [['mount', dir, '--key', formatStorageCapability(deriveMeshKeys(parseMeshKey(key)).storage.capability), '--store', dir], /storage capability/],
        [['mount', join(dir, 'missing'), '--key', key, '--store', join(dir, 'store')], /does not exist/],
        [['mount', '--key', key], /one mount point/]
      ]
      for (const [args, message] of cases) {
        const run = await runMeshfs([...args, '--bootstrap', '127.0.0.1:1'])
        expect(run.code, args.join(' ')).not.toBe(0)
        expect(run.stderr.trim().split('\n'), run.stderr).toHaveLength(1)
        expect(run.stderr).toMatch(message)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('invite prints the full key, or with --storage-only the storage capability, alone on the first line', async () => {
    const key = (await runMeshfs(['init'])).stdout.split('\n')[0] as string
    const full = await runMeshfs(['invite', '--key', key])
    expect(full.stdout.split('\n')[0]).toBe(key)
    const storage = await runMeshfs(['invite', '--key', key, '--storage-only'])
    expect(storage.code).toBe(0)
    const capability = storage.stdout.split('\n')[0] as string
    expect(capability).toBe(formatStorageCapability(deriveMeshKeys(parseMeshKey(key)).storage.capability))
    const refused = await runMeshfs(['invite', '--key', capability, '--storage-only'])
    expect(refused.code).toBe(2)
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

  it('reads sizes in binary units, and 0 only where it turns something off (--inline 0, --spill 0)', () => {
    expect(parseSize('1.5G')).toBe(1.5 * 2 ** 30)
    expect(parseSize('64 MiB')).toBe(64 * 2 ** 20)
    expect(() => parseSize('0')).toThrow(/more than 0/)
    expect(parseSize('0', { zero: true })).toBe(0)
    expect(() => parseSize('-1', { zero: true })).toThrow(/not understood/)
  })

  it('demo starts a local mesh of 5 peer processes and a mount; Ctrl-C unmounts and stops every one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshfs-demo-'))
    const demo = spawnMeshfs(['demo', '--dir', dir, '--capacity', '64M'])
    const mnt = join(dir, 'mnt')
    try {
      let out = ''
      demo.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
      await waitForLine(demo, /press Ctrl-C/, 90_000)
      expect(out).toMatch(/5 peers live/)
      expect(out).toContain(`mounted at ${mnt}`)
      const pids = [...out.matchAll(/(?:started \(pid|mount pid) (\d+)/g)].map((match) => Number(match[1]))
      expect(pids).toHaveLength(6)
      await writeFile(join(mnt, 'hello.txt'), 'hello from the demo\n')
      expect(await readFile(join(mnt, 'hello.txt'), 'utf8')).toBe('hello from the demo\n')
      demo.kill('SIGINT')
      await exited(demo)
      expect(demo.exitCode).toBe(0)
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow() // nothing left running
      expect(await isMounted(mnt)).toBe(false)
    } finally {
      demo.kill('SIGKILL')
      if (await isMounted(mnt)) await unmount(mnt)
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)
})

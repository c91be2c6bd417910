// Where a .cpuprofile's time went: the functions with the most self time, and with the most
// time including what they called (each function counted once per sample).
//   node --import tsx bench/profile-top.ts FILE.cpuprofile [N]
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: Node[], samples: number[], timeDeltas: number[] }

export function printProfile (file: string, top = 30): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const name = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*?\/(node_modules|lib|peers|crypto|cli)\//, '$1/')}:${n.callFrame.lineNumber + 1}`
  const spent = new Map<number, number>()
  profile.samples.forEach((id, i) => spent.set(id, (spent.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)))
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  for (const [id, us] of spent) {
    total += us
    const key = name(byId.get(id)!)
    self.set(key, (self.get(key) ?? 0) + us)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = name(byId.get(at)!)
      if (seen.has(k)) continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + us)
    }
  }
  for (const [title, table] of [['self', self], ['inclusive', inclusive]] as const) {
    console.log(`\n${title} time (of ${(total / 1e6).toFixed(1)} s)`)
    for (const [k, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      console.log(`${(us / 1000).toFixed(0).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${k}`)
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printProfile(process.argv[2]!, Number(process.argv[3] ?? 30))

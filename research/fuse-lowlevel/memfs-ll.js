// In-memory fs over the fl3 prototype binding.
const b = require('./build/Release/fl3.node')
const { monitorEventLoopDelay } = require('perf_hooks')
const mnt = process.argv[2] || '/tmp/fuse-lab/mnt'
const OPTS = (process.env.OPTS || '').split(' ').filter(Boolean)          // e.g. "-o allow_other"
const cfg = { maxWrite: +(process.env.MAX_WRITE || 0), maxReadahead: +(process.env.MAX_RA || 0), maxBackground: +(process.env.MAX_BG || 0), mt: +(process.env.MT || 0) }
const ENOENT = 2, EEXIST = 17, ENOTEMPTY = 39
const S_IFDIR = 0o040000, S_IFREG = 0o100000
const TO = 1.0
const nowT = () => { const ns = process.hrtime.bigint(); const t = Date.now(); return [Math.floor(t / 1000), (t % 1000) * 1e6] }
const ARENA = Buffer.alloc(576 << 20) // pre-touched
let nextIno = 2
const nodes = new Map()
const mk = (mode, uid, gid) => { const t = nowT(); const n = { ino: nextIno++, mode, nlink: mode & S_IFDIR ? 2 : 1, uid, gid, size: 0, buf: null, atime: t, mtime: t, ctime: t, kids: mode & S_IFDIR ? new Map() : null }; nodes.set(n.ino, n); return n }
const root = { ino: 1, mode: S_IFDIR | 0o777, nlink: 2, uid: 0, gid: 0, size: 4096, atime: nowT(), mtime: nowT(), ctime: nowT(), kids: new Map() }
nodes.set(1, root)
const st = n => [n.ino, n.mode, n.nlink, n.uid, n.gid, n.size, n.atime[0], n.atime[1], n.mtime[0], n.mtime[1], n.ctime[0], n.ctime[1]]
const wsz = new Map(), rsz = new Map(); const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1)
const LOG = !!process.env.LOG
const OPN = ['init', 'lookup', 'forget', 'getattr', 'setattr', 'mkdir', 'unlink', 'rmdir', 'rename', 'open', 'read', 'write', 'flush', 'release', 'fsync', 'readdir', 'statfs', 'create', 'opendir', 'releasedir']
function handle (op, req, ino, uid, gid, pid, a, bb, c, d) {
  if (LOG && op !== 10 && op !== 11) console.log(OPN[op], 'ino', ino, 'caller uid/gid/pid', uid, gid, pid, a, bb, c)
  const n = nodes.get(ino)
  switch (op) {
    case 1: { const k = n && n.kids && n.kids.get(a); return k ? b.replyEntry(req, st(k), TO) : b.replyErr(req, ENOENT) }
    case 3: return n ? b.replyAttr(req, st(n), TO) : b.replyErr(req, ENOENT)
    case 4: { // setattr: [to_set, mode, uid, gid, size, as, ans, ms, mns]
      const [set, mode, u, g, size, as, ans, ms, mns] = a
      if (set & (1 << 0)) n.mode = (n.mode & ~0o7777) | (mode & 0o7777)
      if (set & (1 << 1)) n.uid = u
      if (set & (1 << 2)) n.gid = g
      if (set & (1 << 3)) { n.size = size; if (n.buf && n.buf.length < size) { const nb = Buffer.alloc(size); n.buf.copy(nb); n.buf = nb } }
      if (set & (1 << 4)) n.atime = [as, ans]
      if (set & (1 << 5)) n.mtime = [ms, mns]
      if (set & (1 << 7)) n.atime = nowT()   // FUSE_SET_ATTR_ATIME_NOW
      if (set & (1 << 8)) n.mtime = nowT()   // FUSE_SET_ATTR_MTIME_NOW
      n.ctime = nowT()
      return b.replyAttr(req, st(n), TO)
    }
    case 5: { if (n.kids.has(a)) return b.replyErr(req, EEXIST); const k = mk(S_IFDIR | (bb & 0o7777), uid, gid); n.kids.set(a, k); n.nlink++; return b.replyEntry(req, st(k), TO) }
    case 6: case 7: { const k = n.kids.get(a); if (!k) return b.replyErr(req, ENOENT); if (op === 7 && k.kids.size) return b.replyErr(req, ENOTEMPTY); n.kids.delete(a); nodes.delete(k.ino); return b.replyErr(req, 0) }
    case 8: { const k = n.kids.get(a); if (!k) return b.replyErr(req, ENOENT); const np = nodes.get(bb); n.kids.delete(a); np.kids.set(c, k); return b.replyErr(req, 0) }
    case 9: return b.replyOpen(req, ino, 0)
    case 10: { bump(rsz, bb); const [fh, size, off] = [a, bb, c]; if (!n.buf || off >= n.size) return b.replyBuf(req, Buffer.alloc(0)); return b.replyBuf(req, n.buf.subarray(off, Math.min(n.size, off + size))) }
    case 11: { const buf = bb, off = c; bump(wsz, buf.length)
      if (!n.buf) n.buf = ARENA
      if (off + buf.length > n.buf.length) { const nb = Buffer.allocUnsafe(Math.max(off + buf.length, n.buf.length * 2)); n.buf.copy(nb, 0, 0, n.size); n.buf = nb }
      buf.copy(n.buf, off); if (off + buf.length > n.size) n.size = off + buf.length; n.mtime = n.ctime = nowT()
      return b.replyWrite(req, buf.length) }
    case 12: case 13: case 14: return b.replyErr(req, 0)
    case 15: { const list = [['.', ino, S_IFDIR], ['..', 1, S_IFDIR], ...[...n.kids].map(([name, k]) => [name, k.ino, k.mode])]; return b.replyDir(req, bb, c, list) }
    case 16: return b.replyStatfs(req)
    case 17: { const k = mk(S_IFREG | (bb & 0o7777), uid, gid); n.kids.set(a, k); return b.replyCreate(req, st(k), k.ino, TO) }
    default: return b.replyErr(req, 38)
  }
}
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable()
b.mount(mnt, OPTS, handle, cfg)
console.log('mounted', mnt, OPTS.join(' '), JSON.stringify(cfg))
process.on('SIGUSR2', () => {
  console.log('write sizes', JSON.stringify([...wsz])); console.log('read sizes', JSON.stringify([...rsz]))
  console.log('eld p50/p99/max ms', h.percentile(50) / 1e6, h.percentile(99) / 1e6, h.max / 1e6)
  wsz.clear(); rsz.clear(); h.reset()
})
const stop = () => { b.unmount(); console.log('unmounted'); process.exit(0) }
process.on('SIGINT', stop); process.on('SIGTERM', stop)

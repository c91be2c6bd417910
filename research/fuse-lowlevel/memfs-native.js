// Trivial in-memory fs over fuse-native 2.2.6. Usage: EXTRA="big_writes,max_write=131072" node memfs-native.js
const Fuse = require('fuse-native')
const { monitorEventLoopDelay } = require('perf_hooks')
const mnt = process.argv[2] || '/tmp/fuse-lab/mnt'
const EXTRA = process.env.EXTRA || ''
class MeshFuse extends Fuse {
  _fuseOptions () {               // documented-less hook: index.js builds "-o a,b,c" here
    const base = super._fuseOptions()
    if (!EXTRA) return base
    return base ? base + ',' + EXTRA : '-o' + EXTRA
  }
}
const ARENA = Buffer.alloc(576 << 20) // pre-touched: first-touch page faults cost ~2 s per 512 MiB on this VM
const files = new Map()  // name -> {buf, size, mode, atime, mtime}
const now = () => new Date()
const root = { mode: 0o40777, size: 4096, atime: now(), mtime: now(), ctime: now(), nlink: 2 }
const writeSizes = new Map(), readSizes = new Map()
const bump = (m, k) => m.set(k, (m.get(k) || 0) + 1)
const ops = {
  getattr (p, cb) {
    if (p === '/') return cb(0, root)
    const f = files.get(p); if (!f) return cb(Fuse.ENOENT)
    cb(0, { mode: f.mode, size: f.size, atime: f.atime, mtime: f.mtime, ctime: f.ctime, nlink: 1, uid: 0, gid: 0 })
  },
  readdir (p, cb) { cb(0, [...files.keys()].map(k => k.slice(1))) },
  create (p, mode, cb) {
    console.log('create args:', JSON.stringify([...arguments].slice(0, 2)), 'arity', ops.create.length)
    files.set(p, { buf: ARENA, size: 0, mode, atime: now(), mtime: now(), ctime: now() }); cb(0, 42)
  },
  open (p, flags, cb) { files.has(p) ? cb(0, 42) : cb(Fuse.ENOENT) },
  release (p, fd, cb) { cb(0) },
  truncate (p, size, cb) { const f = files.get(p); f.size = size; cb(0) },
  ftruncate (p, fd, size, cb) { const f = files.get(p); f.size = size; cb(0) },
  utimens (p, atime, mtime, cb) {
    console.log('utimens', p, 'atime=', atime, 'mtime=', mtime)
    const f = files.get(p); if (f) { f.atime = new Date(atime); f.mtime = new Date(mtime) } ; cb(0)
  },
  unlink (p, cb) { files.delete(p); cb(0) },
  write (p, fd, buf, len, pos, cb) {
    bump(writeSizes, len)
    const f = files.get(p)
    if (pos + len > f.buf.length) { const nb = Buffer.alloc(Math.max(pos + len, f.buf.length * 2)); f.buf.copy(nb, 0, 0, f.size); f.buf = nb }
    buf.copy(f.buf, pos, 0, len); if (pos + len > f.size) f.size = pos + len
    cb(len)
  },
  read (p, fd, buf, len, pos, cb) {
    bump(readSizes, len)
    const f = files.get(p); if (pos >= f.size) return cb(0)
    const n = Math.min(len, f.size - pos); f.buf.copy(buf, 0, pos, pos + n); cb(n)
  },
  fsync (p, fd, datasync, cb) { cb(0) },
  flush (p, fd, cb) { cb(0) }
}
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable()
const fuse = new MeshFuse(mnt, ops, { force: true, mkdir: true, allowOther: true })
fuse.mount(err => {
  if (err) { console.error('mount failed', err); process.exit(1) }
  console.log('mounted', mnt, 'extra=', EXTRA)
})
process.on('SIGUSR2', () => {
  console.log('write sizes', JSON.stringify([...writeSizes])); console.log('read sizes', JSON.stringify([...readSizes]))
  console.log('eld p50/p99/max ms', h.percentile(50) / 1e6, h.percentile(99) / 1e6, h.max / 1e6)
  writeSizes.clear(); readSizes.clear(); h.reset()
})
const stop = () => fuse.unmount(err => { console.log('unmounted', err || ''); process.exit(0) })
process.on('SIGINT', stop); process.on('SIGTERM', stop)

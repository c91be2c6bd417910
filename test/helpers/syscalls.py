# A system-call server for the POSIX tests: JSON lines in, JSON lines out, one call per line.
# Node has no xattr, mmap, mkfifo, utimensat(UTIME_OMIT) or fdatasync-on-dir calls, and a test
# must run calls as another user: this process does them, started with the uid it should have.
# Request: {"op": NAME, "args": [...]}. Reply: {"ok": VALUE} or {"err": "ENOENT"}.
# Paths: a string, or {"hex": "..."} for names that are not UTF-8.
import base64, ctypes, ctypes.util, errno, hashlib, json, mmap, os, platform, socket, stat, struct, sys

libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100


class Timespec(ctypes.Structure):
    _fields_ = [('tv_sec', ctypes.c_long), ('tv_nsec', ctypes.c_long)]


def path(p):
    return bytes.fromhex(p['hex']) if isinstance(p, dict) else p.encode()


def check(rc):
    if rc < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return rc


def stat_result(st):
    return {'ino': st.st_ino, 'mode': st.st_mode, 'nlink': st.st_nlink, 'uid': st.st_uid, 'gid': st.st_gid,
            'size': st.st_size, 'blocks': st.st_blocks,
            # Nanoseconds since 1970 do not fit a JSON number exactly: as text.
            'atime': str(st.st_atime_ns), 'mtime': str(st.st_mtime_ns), 'ctime': str(st.st_ctime_ns)}


def flags(names):
    out = 0
    for name in names:
        out |= getattr(os, name)
    return out


def spec(t):
    if t == 'now':
        return Timespec(0, UTIME_NOW)
    if t == 'omit':
        return Timespec(0, UTIME_OMIT)
    return Timespec(t[0], t[1])


def utimensat(p, atime, mtime, nofollow=False):
    times = (Timespec * 2)(spec(atime), spec(mtime))
    return check(libc.utimensat(AT_FDCWD, path(p), times, AT_SYMLINK_NOFOLLOW if nofollow else 0))


def renameat2(a, b, flags):
    return check(libc.renameat2(AT_FDCWD, path(a), AT_FDCWD, path(b), flags))


def fallocate(fd, mode, offset, length):
    return check(libc.fallocate(fd, mode, ctypes.c_long(offset), ctypes.c_long(length)))


def getxattr_sized(p, name, size):
    # The raw call, for the size-0 probe and ERANGE (os.getxattr sizes its buffer itself).
    buf = ctypes.create_string_buffer(max(size, 1))
    n = check(libc.lgetxattr(path(p), name.encode(), buf if size else None, size))
    return n if size == 0 else base64.b64encode(buf.raw[:n]).decode()


def mmap_write(p, offset, data):
    fd = os.open(path(p), os.O_RDWR)
    try:
        with mmap.mmap(fd, os.fstat(fd).st_size) as m:
            raw = base64.b64decode(data)
            m[offset:offset + len(raw)] = raw
            m.flush()
    finally:
        os.close(fd)


def mmap_read(p, offset, length):
    fd = os.open(path(p), os.O_RDONLY)
    try:
        with mmap.mmap(fd, os.fstat(fd).st_size, prot=mmap.PROT_READ) as m:
            return base64.b64encode(m[offset:offset + length]).decode()
    finally:
        os.close(fd)


SYS_GETDENTS64 = {'x86_64': 217, 'aarch64': 61}.get(platform.machine(), 217)


def getdents(fd, size):
    # One getdents64 call: entries as the kernel hands them, '.' and '..' included, in batches
    # as small as the test asks (to change the directory between two batches).
    buf = ctypes.create_string_buffer(size)
    n = check(libc.syscall(SYS_GETDENTS64, fd, buf, size))
    out, pos = [], 0
    while pos < n:
        ino, _off, reclen, dtype = struct.unpack_from('QqHB', buf.raw, pos)
        name = buf.raw[pos + 19:pos + reclen].split(b'\0', 1)[0]
        out.append([name.hex(), ino, dtype])
        pos += reclen
    return out


def bind_unix(p):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(path(p))


def describe(p):
    # What a path is, for comparing two trees: type, mode, owner, links, size, content hash,
    # entries, symlink target, extended attributes. An errno name if it cannot be looked at.
    try:
        st = os.lstat(path(p))
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    kind = 'dir' if stat.S_ISDIR(st.st_mode) else 'symlink' if stat.S_ISLNK(st.st_mode) else 'file' if stat.S_ISREG(st.st_mode) else 'other'
    out = {'kind': kind, 'mode': st.st_mode & 0o7777, 'owner': [st.st_uid, st.st_gid]}
    if kind == 'dir':
        out['entries'] = sorted(os.listdir(p if isinstance(p, str) else path(p)))
    else:
        out['nlink'] = st.st_nlink
        out['size'] = st.st_size
    if kind == 'symlink':
        out['target'] = os.readlink(path(p)).hex()
    if kind == 'file':
        with open(path(p), 'rb') as f:
            out['sha256'] = hashlib.sha256(f.read()).hexdigest()
    if kind in ('file', 'dir'):
        out['xattrs'] = {n: base64.b64encode(os.getxattr(path(p), n, follow_symlinks=False)).decode()
                         for n in sorted(os.listxattr(path(p), follow_symlinks=False))}
    return out


def listdir(p):
    return sorted(name.hex() for name in os.listdir(path(p)))


CALLS = {
    'open': lambda p, fl, mode=0o644: os.open(path(p), flags(fl), mode),
    'close': os.close,
    'read': lambda fd, n, off=None: base64.b64encode(os.read(fd, n) if off is None else os.pread(fd, n, off)).decode(),
    'write': lambda fd, data, off=None: os.write(fd, base64.b64decode(data)) if off is None else os.pwrite(fd, base64.b64decode(data), off),
    'ftruncate': os.ftruncate,
    'fsync': os.fsync,
    'fdatasync': os.fdatasync,
    'fstat': lambda fd: stat_result(os.fstat(fd)),
    'lseek': os.lseek,
    'lstat': lambda p: stat_result(os.lstat(path(p))),
    'stat': lambda p: stat_result(os.stat(path(p))),
    'statvfs': lambda p: dict(zip(['bsize', 'frsize', 'blocks', 'bfree', 'bavail', 'files', 'ffree', 'favail', 'flag', 'namemax'], os.statvfs(path(p)))),
    'truncate': lambda p, size: os.truncate(path(p), size),
    'rename': lambda a, b: os.rename(path(a), path(b)),
    'unlink': lambda p: os.unlink(path(p)),
    'mkdir': lambda p, mode=0o755: os.mkdir(path(p), mode),
    'rmdir': lambda p: os.rmdir(path(p)),
    'chmod': lambda p, mode: os.chmod(path(p), mode),
    'chown': lambda p, uid, gid: os.chown(path(p), uid, gid),
    'lchown': lambda p, uid, gid: os.lchown(path(p), uid, gid),
    'link': lambda a, b: os.link(path(a), path(b)),
    'symlink': lambda target, p: os.symlink(path(target), path(p)),
    'readlink': lambda p: os.readlink(path(p)).hex(),
    'mkfifo': lambda p, mode=0o644: os.mkfifo(path(p), mode),
    'mknod': lambda p, mode: os.mknod(path(p), mode),
    'access': lambda p, mode: os.access(path(p), mode),
    'utimensat': utimensat,
    'setxattr': lambda p, name, data, fl=0: os.setxattr(path(p), name, base64.b64decode(data), fl, follow_symlinks=False),
    'getxattr': lambda p, name: base64.b64encode(os.getxattr(path(p), name, follow_symlinks=False)).decode(),
    'getxattr_sized': getxattr_sized,
    'listxattr': lambda p: sorted(os.listxattr(path(p), follow_symlinks=False)),
    'removexattr': lambda p, name: os.removexattr(path(p), name, follow_symlinks=False),
    'mmap_write': mmap_write,
    'mmap_read': mmap_read,
    'listdir': listdir,
    'renameat2': renameat2,
    'fallocate': fallocate,
    'posix_fallocate': os.posix_fallocate,
    'describe': describe,
    'bind_unix': bind_unix,
    'opendir': lambda p: os.open(path(p), os.O_RDONLY | os.O_DIRECTORY),
    'getdents': getdents,
    'write_file': lambda p, data: open(path(p), 'wb').write(base64.b64decode(data)),
    'read_file': lambda p: base64.b64encode(open(path(p), 'rb').read()).decode(),
    'whoami': lambda: [os.getuid(), os.getgid()],
}

for line in sys.stdin:
    request = json.loads(line)
    try:
        reply = {'ok': CALLS[request['op']](*request.get('args', []))}
    except OSError as e:
        reply = {'err': errno.errorcode.get(e.errno, str(e.errno))}
    except Exception as e:  # a bad request: the test's mistake, said plainly
        reply = {'fail': f'{type(e).__name__}: {e}'}
    sys.stdout.write(json.dumps(reply) + '\n')
    sys.stdout.flush()

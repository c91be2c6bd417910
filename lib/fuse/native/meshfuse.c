// meshfuse: a thin N-API binding over libfuse3's low-level API (inode-based ops).
//
// Why our own: fuse-native 2.2.6 passes utimens the atime in place of the mtime (in ms), hides the
// caller's uid/gid and cannot ask for big writes. Here the kernel sends 1 MiB writes, times arrive in
// nanoseconds and every request carries the caller's uid/gid/pid.
//
// One thread: the JS thread polls /dev/fuse (non-blocking, in libuv's loop), reads each request as
// it comes and calls JavaScript with it; JavaScript answers with reply*(), now or later. A request
// then wakes one thread, not two: with a reader thread handing requests over, the hand-off alone
// took about 40 us of each request's time on a 2-core machine (tar -x of 4,000 files). The session
// is destroyed only when the kernel has let go and every request has been answered, so a late reply
// never touches freed memory.
#define FUSE_USE_VERSION 34
#define NAPI_VERSION 8
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <fcntl.h>
#include <uv.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>

// Op numbers: keep in step with lib/fuse/native.ts.
enum {
  OP_LOOKUP = 1, OP_GETATTR, OP_SETATTR, OP_READLINK, OP_MKNOD, OP_MKDIR, OP_UNLINK, OP_RMDIR,
  OP_SYMLINK, OP_RENAME, OP_LINK, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC,
  OP_OPENDIR, OP_READDIR, OP_RELEASEDIR, OP_FSYNCDIR, OP_STATFS, OP_SETXATTR, OP_GETXATTR,
  OP_LISTXATTR, OP_REMOVEXATTR, OP_CREATE, OP_READDIRPLUS, OP_ENDED = 100
};

typedef struct mount_s {
  struct fuse_session *se;
  napi_env env;
  napi_ref handler;
  napi_async_context context;
  uv_poll_t poll;
  struct fuse_buf buf;  // one request at a time, kept between reads
  unsigned max_write, max_readahead, max_background;
  int polling;         // /dev/fuse is watched (until the kernel lets go, or unmount)
  int loop_ended;      // no more requests (OP_ENDED was sent)
  int want_destroy;    // JavaScript is done with this mount
  int destroyed;
  long outstanding;    // requests handed to JavaScript and not yet answered
} mount_t;

typedef struct {
  int op;
  mount_t *m;
  fuse_req_t req;
  fuse_ino_t ino, ino2;
  char *name, *name2;
  uint64_t fh;
  int64_t off;
  size_t size;
  int flags, to_set;
  unsigned mode;
  struct stat attr;
  char *buf;           // payload (write data, xattr value): a copy, or in the read buffer taken over (see ll_write)
  char *buf_base;      // that read buffer (freed with the payload), or NULL for a copy
  uid_t uid; gid_t gid; pid_t pid;
} job_t;

static void job_free(job_t *j) { free(j->name); free(j->name2); free(j->buf_base ? j->buf_base : j->buf); free(j); }

static job_t *job_new(int op, fuse_req_t req, fuse_ino_t ino) {
  job_t *j = calloc(1, sizeof(job_t));
  if (!j) return NULL;
  j->op = op; j->req = req; j->ino = ino; j->m = fuse_req_userdata(req);
  const struct fuse_ctx *c = fuse_req_ctx(req);
  j->uid = c->uid; j->gid = c->gid; j->pid = c->pid;
  return j;
}

static void call_js(mount_t *m, job_t *j);

// Requests are read on the JS thread (see on_readable): each goes to JavaScript at once.
static void submit(job_t *j, fuse_req_t req) {
  if (!j) { fuse_reply_err(req, ENOMEM); return; }
  j->m->outstanding++;
  call_js(j->m, j);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void ll_init(void *ud, struct fuse_conn_info *conn) {
  mount_t *m = ud;
  if (m->max_write) conn->max_write = m->max_write;
  if (m->max_readahead) conn->max_readahead = m->max_readahead;
  if (m->max_background) conn->max_background = m->max_background;
  // Reads may run in parallel; directory ops too (the JS side serializes what must be).
  conn->want |= conn->capable & (FUSE_CAP_ASYNC_READ | FUSE_CAP_PARALLEL_DIROPS | FUSE_CAP_ATOMIC_O_TRUNC);
}

#define NAMED(OP) job_t *j = job_new(OP, r, p); if (j) j->name = dup_or_null(name)
static void ll_lookup(fuse_req_t r, fuse_ino_t p, const char *name) { NAMED(OP_LOOKUP); submit(j, r); }
// Inodes live in the database for the life of the file: nothing to do on forget.
static void ll_forget(fuse_req_t r, fuse_ino_t ino, uint64_t n) { fuse_reply_none(r); }
static void ll_forget_multi(fuse_req_t r, size_t count, struct fuse_forget_data *f) { fuse_reply_none(r); }
static void ll_getattr(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { submit(job_new(OP_GETATTR, r, ino), r); }
static void ll_setattr(fuse_req_t r, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_SETATTR, r, ino);
  if (j) { j->attr = *attr; j->to_set = to_set; j->fh = fi ? fi->fh : 0; j->flags = fi ? 1 : 0; }
  submit(j, r);
}
static void ll_readlink(fuse_req_t r, fuse_ino_t ino) { submit(job_new(OP_READLINK, r, ino), r); }
static void ll_mknod(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode, dev_t rdev) {
  NAMED(OP_MKNOD); if (j) j->mode = mode; submit(j, r);
}
static void ll_mkdir(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode) { NAMED(OP_MKDIR); if (j) j->mode = mode; submit(j, r); }
static void ll_unlink(fuse_req_t r, fuse_ino_t p, const char *name) { NAMED(OP_UNLINK); submit(j, r); }
static void ll_rmdir(fuse_req_t r, fuse_ino_t p, const char *name) { NAMED(OP_RMDIR); submit(j, r); }
static void ll_symlink(fuse_req_t r, const char *target, fuse_ino_t p, const char *name) {
  NAMED(OP_SYMLINK); if (j) j->name2 = dup_or_null(target); submit(j, r);
}
static void ll_rename(fuse_req_t r, fuse_ino_t p, const char *name, fuse_ino_t np, const char *nn, unsigned int flags) {
  NAMED(OP_RENAME); if (j) { j->ino2 = np; j->name2 = dup_or_null(nn); j->flags = (int) flags; } submit(j, r);
}
static void ll_link(fuse_req_t r, fuse_ino_t ino, fuse_ino_t p, const char *name) {
  job_t *j = job_new(OP_LINK, r, ino); if (j) { j->ino2 = p; j->name = dup_or_null(name); } submit(j, r);
}
static void ll_open(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_OPEN, r, ino); if (j) j->flags = fi->flags; submit(j, r);
}
static void ll_read(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_READ, r, ino); if (j) { j->size = size; j->off = off; j->fh = fi->fh; } submit(j, r);
}
// Writes from this size on keep their data where it was read: the read buffer goes with the request
// and the next read gets a new one (a copy of 1 MiB took the JS thread longer than the allocation).
#define WRITE_TAKEOVER_BYTES (64 * 1024)

static void ll_write(fuse_req_t r, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_WRITE, r, ino);
  mount_t *m = fuse_req_userdata(r);
  char *mem = m->buf.mem;
  if (j && size >= WRITE_TAKEOVER_BYTES && mem && buf >= mem && buf + size <= mem + m->buf.size) {
    j->size = size; j->off = off; j->fh = fi->fh;
    j->buf = (char *) buf; j->buf_base = mem;
    m->buf.mem = NULL;   // libfuse allocates the next one
  } else if (j) {
    j->size = size; j->off = off; j->fh = fi->fh;
    j->buf = malloc(size ? size : 1);
    if (!j->buf) { job_free(j); fuse_reply_err(r, ENOMEM); return; }
    memcpy(j->buf, buf, size);
  }
  submit(j, r);
}
#define WITH_FH(OP) job_t *j = job_new(OP, r, ino); if (j) j->fh = fi->fh
static void ll_flush(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { WITH_FH(OP_FLUSH); submit(j, r); }
static void ll_release(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { WITH_FH(OP_RELEASE); submit(j, r); }
static void ll_fsync(fuse_req_t r, fuse_ino_t ino, int ds, struct fuse_file_info *fi) { WITH_FH(OP_FSYNC); if (j) j->flags = ds; submit(j, r); }
static void ll_opendir(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { submit(job_new(OP_OPENDIR, r, ino), r); }
static void ll_readdir(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  WITH_FH(OP_READDIR); if (j) { j->size = size; j->off = off; } submit(j, r);
}
// Entries with their attributes: `ls -l`, du and find then need no lookup per entry.
static void ll_readdirplus(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  WITH_FH(OP_READDIRPLUS); if (j) { j->size = size; j->off = off; } submit(j, r);
}
static void ll_releasedir(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { WITH_FH(OP_RELEASEDIR); submit(j, r); }
static void ll_fsyncdir(fuse_req_t r, fuse_ino_t ino, int ds, struct fuse_file_info *fi) { WITH_FH(OP_FSYNCDIR); submit(j, r); }
static void ll_statfs(fuse_req_t r, fuse_ino_t ino) { submit(job_new(OP_STATFS, r, ino), r); }
static void ll_setxattr(fuse_req_t r, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags) {
  job_t *j = job_new(OP_SETXATTR, r, ino);
  if (j) {
    j->name = dup_or_null(name); j->size = size; j->flags = flags;
    j->buf = malloc(size ? size : 1);
    if (!j->buf) { job_free(j); fuse_reply_err(r, ENOMEM); return; }
    memcpy(j->buf, value, size);
  }
  submit(j, r);
}
static void ll_getxattr(fuse_req_t r, fuse_ino_t ino, const char *name, size_t size) {
  job_t *j = job_new(OP_GETXATTR, r, ino); if (j) { j->name = dup_or_null(name); j->size = size; } submit(j, r);
}
static void ll_listxattr(fuse_req_t r, fuse_ino_t ino, size_t size) {
  job_t *j = job_new(OP_LISTXATTR, r, ino); if (j) j->size = size; submit(j, r);
}
static void ll_removexattr(fuse_req_t r, fuse_ino_t ino, const char *name) {
  job_t *j = job_new(OP_REMOVEXATTR, r, ino); if (j) j->name = dup_or_null(name); submit(j, r);
}
static void ll_create(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode, struct fuse_file_info *fi) {
  NAMED(OP_CREATE); if (j) { j->mode = mode; j->flags = fi->flags; } submit(j, r);
}

static const struct fuse_lowlevel_ops ops = {
  .init = ll_init, .lookup = ll_lookup, .forget = ll_forget, .forget_multi = ll_forget_multi,
  .getattr = ll_getattr, .setattr = ll_setattr, .readlink = ll_readlink, .mknod = ll_mknod,
  .mkdir = ll_mkdir, .unlink = ll_unlink, .rmdir = ll_rmdir, .symlink = ll_symlink, .rename = ll_rename,
  .link = ll_link, .open = ll_open, .read = ll_read, .write = ll_write, .flush = ll_flush,
  .release = ll_release, .fsync = ll_fsync, .opendir = ll_opendir, .readdir = ll_readdir,
  .readdirplus = ll_readdirplus,
  .releasedir = ll_releasedir, .fsyncdir = ll_fsyncdir, .statfs = ll_statfs, .setxattr = ll_setxattr,
  .getxattr = ll_getxattr, .listxattr = ll_listxattr, .removexattr = ll_removexattr, .create = ll_create,
};

// ---- the hand-off to JavaScript ----

static napi_value num(napi_env env, double v) { napi_value x; napi_create_double(env, v, &x); return x; }
static napi_value str(napi_env env, const char *s) {
  napi_value x;
  if (!s) napi_get_null(env, &x);
  else napi_create_buffer_copy(env, strlen(s), s, NULL, &x);   // names are bytes, not necessarily UTF-8
  return x;
}
static void free_buf(napi_env env, void *data, void *hint) { free(hint ? hint : data); }

static void destroy_if_done(mount_t *m) {
  if (m->destroyed || !m->want_destroy || !m->loop_ended || m->outstanding > 0) return;
  m->destroyed = 1;
  fuse_session_destroy(m->se);   // closes /dev/fuse: polling stopped before (end_loop)
  m->se = NULL;
  free(m->buf.mem);
  m->buf.mem = NULL;
  napi_delete_reference(m->env, m->handler);
  napi_async_destroy(m->env, m->context);
}

// handler(op, req, ino, uid, gid, pid, a, b, c, d), called as a callback from the event loop:
// promises it settles run their continuations before the next request is read.
static void call_js(mount_t *m, job_t *j) {
  napi_env env = m->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value argv[10], undef;
  napi_get_undefined(env, &undef);
  for (int i = 0; i < 10; i++) argv[i] = undef;
  argv[0] = num(env, j->op);
  argv[1] = num(env, (double) (uintptr_t) j->req);   // user-space pointers fit in 53 bits
  argv[2] = num(env, (double) j->ino);
  argv[3] = num(env, j->uid); argv[4] = num(env, j->gid); argv[5] = num(env, j->pid);
  switch (j->op) {
    case OP_LOOKUP: case OP_UNLINK: case OP_RMDIR: case OP_REMOVEXATTR:
      argv[6] = str(env, j->name); break;
    case OP_MKDIR: case OP_MKNOD: argv[6] = str(env, j->name); argv[7] = num(env, j->mode); break;
    case OP_CREATE: argv[6] = str(env, j->name); argv[7] = num(env, j->mode); argv[8] = num(env, j->flags); break;
    case OP_SYMLINK: argv[6] = str(env, j->name); argv[7] = str(env, j->name2); break;
    case OP_RENAME: argv[6] = str(env, j->name); argv[7] = num(env, (double) j->ino2); argv[8] = str(env, j->name2); argv[9] = num(env, j->flags); break;
    case OP_LINK: argv[6] = num(env, (double) j->ino2); argv[7] = str(env, j->name); break;
    case OP_OPEN: argv[6] = num(env, j->flags); break;
    case OP_READ: case OP_READDIR: case OP_READDIRPLUS: argv[6] = num(env, (double) j->fh); argv[7] = num(env, (double) j->size); argv[8] = num(env, (double) j->off); break;
    case OP_WRITE: {
      napi_value b;
      napi_create_external_buffer(env, j->size, j->buf, free_buf, j->buf_base, &b);
      j->buf = j->buf_base = NULL;   // now owned by the Buffer
      argv[6] = num(env, (double) j->fh); argv[7] = b; argv[8] = num(env, (double) j->off); break;
    }
    case OP_FLUSH: case OP_RELEASE: case OP_RELEASEDIR: case OP_FSYNCDIR: argv[6] = num(env, (double) j->fh); break;
    case OP_FSYNC: argv[6] = num(env, (double) j->fh); argv[7] = num(env, j->flags); break;
    case OP_SETXATTR: {
      napi_value b;
      napi_create_buffer_copy(env, j->size, j->buf, NULL, &b);
      argv[6] = str(env, j->name); argv[7] = b; argv[8] = num(env, j->flags); break;
    }
    case OP_GETXATTR: argv[6] = str(env, j->name); argv[7] = num(env, (double) j->size); break;
    case OP_LISTXATTR: argv[6] = num(env, (double) j->size); break;
    case OP_SETATTR: {
      // [to_set, mode, uid, gid, size, atime_s, atime_ns, mtime_s, mtime_ns, fh, hasFh]
      napi_value a; napi_create_array_with_length(env, 11, &a);
      double v[11] = { j->to_set, j->attr.st_mode, j->attr.st_uid, j->attr.st_gid, (double) j->attr.st_size,
                       (double) j->attr.st_atim.tv_sec, (double) j->attr.st_atim.tv_nsec,
                       (double) j->attr.st_mtim.tv_sec, (double) j->attr.st_mtim.tv_nsec, (double) j->fh, j->flags };
      for (int i = 0; i < 11; i++) napi_set_element(env, a, i, num(env, v[i]));
      argv[6] = a; break;
    }
  }
  if (j->op == OP_ENDED) m->loop_ended = 1;
  napi_value global, cb;
  napi_get_global(env, &global);
  napi_get_reference_value(env, m->handler, &cb);
  if (napi_make_callback(env, m->context, global, cb, 10, argv, NULL) == napi_pending_exception) {
    napi_value err;   // the handler threw: Node's uncaught exception handling takes it, as for any callback
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  job_free(j);
  napi_close_handle_scope(env, scope);
  if (m->loop_ended) destroy_if_done(m);
}

static void on_poll_closed(uv_handle_t *poll) {
  mount_t *m = poll->data;
  job_t *j = calloc(1, sizeof(job_t));
  if (!j) { m->loop_ended = 1; destroy_if_done(m); return; }
  j->op = OP_ENDED; j->m = m;
  call_js(m, j);
}

// No more requests (the kernel let go, or unmount is closing /dev/fuse): OP_ENDED follows, from
// the event loop once the watch is closed.
static void end_loop(mount_t *m) {
  if (!m->polling) return;
  m->polling = 0;
  uv_poll_stop(&m->poll);
  uv_close((uv_handle_t *) &m->poll, on_poll_closed);
}

// /dev/fuse has requests: each is read and handed to JavaScript, a bounded number per turn so
// timers and the network get theirs (the descriptor stays readable, so the loop comes back).
static void on_readable(uv_poll_t *poll, int status, int events) {
  mount_t *m = poll->data;
  for (int i = 0; i < 64 && m->polling; i++) {
    int res = status < 0 ? -EIO : fuse_session_receive_buf(m->se, &m->buf);
    if (res == -EAGAIN || res == -EINTR) return;
    if (res <= 0 || fuse_session_exited(m->se)) { end_loop(m); return; }
    fuse_session_process_buf(m->se, &m->buf);
  }
}

// ---- exports ----

#define ARGS(n) size_t argc = n; napi_value argv[n]; napi_get_cb_info(env, info, &argc, argv, NULL, NULL)
static fuse_req_t get_req(napi_env env, napi_value v) { double d = 0; napi_get_value_double(env, v, &d); return (fuse_req_t) (uintptr_t) d; }
static double get_num(napi_env env, napi_value v) { double d = 0; napi_get_value_double(env, v, &d); return d; }
static double prop_num(napi_env env, napi_value obj, const char *name) {
  napi_value v; if (napi_get_named_property(env, obj, name, &v) != napi_ok) return 0; return get_num(env, v);
}
static mount_t *get_mount(napi_env env, napi_value v) { void *p = NULL; napi_get_value_external(env, v, &p); return p; }

// Every reply marks one request answered (the count decides when the session may be destroyed).
static void answered(mount_t *m) {
  m->outstanding--;
  if (m->loop_ended) destroy_if_done(m);
}

// mount(mountpoint, fuseArgs[], handler, {maxWrite, maxReadahead, maxBackground}) -> handle
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(4);
  size_t len;
  char mp[4096];
  napi_get_value_string_utf8(env, argv[0], mp, sizeof mp, &len);
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  char **av = calloc(n + 2, sizeof(char *));
  av[0] = strdup("meshfs");
  for (uint32_t i = 0; i < n; i++) {
    napi_value e; char s[4096];
    napi_get_element(env, argv[1], i, &e);
    napi_get_value_string_utf8(env, e, s, sizeof s, &len);
    av[i + 1] = strdup(s);
  }
  struct fuse_args args = FUSE_ARGS_INIT((int) n + 1, av);

  mount_t *m = calloc(1, sizeof(mount_t));
  m->env = env;
  m->max_write = (unsigned) prop_num(env, argv[3], "maxWrite");
  m->max_readahead = (unsigned) prop_num(env, argv[3], "maxReadahead");
  m->max_background = (unsigned) prop_num(env, argv[3], "maxBackground");

  m->se = fuse_session_new(&args, &ops, sizeof ops, m);
  fuse_opt_free_args(&args);
  for (uint32_t i = 0; i <= n; i++) free(av[i]);
  free(av);
  if (!m->se) { free(m); napi_throw_error(env, "EINVAL", "fuse: invalid mount options"); return NULL; }
  if (fuse_session_mount(m->se, mp) != 0) {
    fuse_session_destroy(m->se); free(m);
    napi_throw_error(env, "EMOUNT", "fuse: mount failed (is /dev/fuse available and is the mount point usable?)");
    return NULL;
  }
  napi_value name, resource;
  napi_create_string_utf8(env, "meshfuse", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  napi_create_reference(env, argv[2], 1, &m->handler);
  napi_async_init(env, resource, name, &m->context);

  uv_loop_t *loop = NULL;
  int fd = fuse_session_fd(m->se);
  int err = napi_get_uv_event_loop(env, &loop) != napi_ok ? UV_EINVAL : fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ? -errno : uv_poll_init(loop, &m->poll, fd);
  if (err != 0) {
    fuse_session_unmount(m->se); fuse_session_destroy(m->se);
    napi_delete_reference(env, m->handler); napi_async_destroy(env, m->context); free(m);
    char message[160];
    snprintf(message, sizeof message, "fuse: cannot poll /dev/fuse (fd %d): %s", fd, uv_strerror(err));
    napi_throw_error(env, "EIO", message);
    return NULL;
  }
  m->poll.data = m;
  m->polling = 1;
  uv_poll_start(&m->poll, UV_READABLE, on_readable);

  napi_value handle;
  napi_create_external(env, m, NULL, NULL, &handle);
  return handle;
}

// unmount(handle): detaches the mount (OP_ENDED follows). Requests not read by then are lost to
// their callers (ENOTCONN), as they would be with the process gone.
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  ARGS(1);
  mount_t *m = get_mount(env, argv[0]);
  if (m && m->se && !m->loop_ended) {
    fuse_session_exit(m->se);
    end_loop(m);   // first: the unmount closes /dev/fuse, which must not be watched then
    fuse_session_unmount(m->se);
  }
  return NULL;
}

// dispose(handle): frees the session once the loop has ended and every request is answered.
static napi_value js_dispose(napi_env env, napi_callback_info info) {
  ARGS(1);
  mount_t *m = get_mount(env, argv[0]);
  if (m) { m->want_destroy = 1; destroy_if_done(m); }
  return NULL;
}

// stat from a Float64Array: [ino, mode, nlink, uid, gid, size, blocks, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns, blksize]
#define STAT_FIELDS 14
static void stat_from(const double *v, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t) v[0]; st->st_mode = (mode_t) v[1]; st->st_nlink = (nlink_t) v[2];
  st->st_uid = (uid_t) v[3]; st->st_gid = (gid_t) v[4]; st->st_size = (off_t) v[5]; st->st_blocks = (blkcnt_t) v[6];
  st->st_atim.tv_sec = (time_t) v[7]; st->st_atim.tv_nsec = (long) v[8];
  st->st_mtim.tv_sec = (time_t) v[9]; st->st_mtim.tv_nsec = (long) v[10];
  st->st_ctim.tv_sec = (time_t) v[11]; st->st_ctim.tv_nsec = (long) v[12];
  st->st_blksize = (blksize_t) v[13];
}
static void fill_stat(napi_env env, napi_value a, struct stat *st) {
  void *data = NULL; size_t len = 0; napi_typedarray_type type; napi_value ab; size_t off;
  napi_get_typedarray_info(env, a, &type, &len, &data, &ab, &off);
  if (type != napi_float64_array || len < STAT_FIELDS) { memset(st, 0, sizeof *st); return; }
  stat_from(data, st);
}

#define REPLY_PROLOGUE(n) ARGS(n); mount_t *m = get_mount(env, argv[0]); if (!m || m->destroyed) return NULL; fuse_req_t req = get_req(env, argv[1])

// replyErr(handle, req, errno) -- errno 0 is success for ops that return nothing
static napi_value js_reply_err(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  fuse_reply_err(req, (int) get_num(env, argv[2]));
  answered(m); return NULL;
}
// replyEntry(handle, req, stat, timeoutSeconds)
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(4);
  struct fuse_entry_param e; memset(&e, 0, sizeof e);
  fill_stat(env, argv[2], &e.attr); e.ino = e.attr.st_ino;
  e.attr_timeout = e.entry_timeout = get_num(env, argv[3]);
  fuse_reply_entry(req, &e);
  answered(m); return NULL;
}
// replyCreate(handle, req, stat, timeoutSeconds, fh, directIo)
static napi_value js_reply_create(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(6);
  struct fuse_entry_param e; memset(&e, 0, sizeof e);
  fill_stat(env, argv[2], &e.attr); e.ino = e.attr.st_ino;
  e.attr_timeout = e.entry_timeout = get_num(env, argv[3]);
  struct fuse_file_info fi; memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t) get_num(env, argv[4]); fi.direct_io = get_num(env, argv[5]) != 0;
  fuse_reply_create(req, &e, &fi);
  answered(m); return NULL;
}
// replyAttr(handle, req, stat, timeoutSeconds)
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(4);
  struct stat st; fill_stat(env, argv[2], &st);
  fuse_reply_attr(req, &st, get_num(env, argv[3]));
  answered(m); return NULL;
}
// replyReadlink(handle, req, targetBuffer)
static napi_value js_reply_readlink(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  void *data; size_t len; napi_get_buffer_info(env, argv[2], &data, &len);
  char *s = malloc(len + 1);
  if (!s) fuse_reply_err(req, ENOMEM);
  else { memcpy(s, data, len); s[len] = 0; fuse_reply_readlink(req, s); free(s); }
  answered(m); return NULL;
}
// replyOpen(handle, req, fh, keepCache, directIo)
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(5);
  struct fuse_file_info fi; memset(&fi, 0, sizeof fi);
  fi.fh = (uint64_t) get_num(env, argv[2]); fi.keep_cache = get_num(env, argv[3]) != 0; fi.direct_io = get_num(env, argv[4]) != 0;
  fuse_reply_open(req, &fi);
  answered(m); return NULL;
}
// replyWrite(handle, req, count)
static napi_value js_reply_write(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  fuse_reply_write(req, (size_t) get_num(env, argv[2]));
  answered(m); return NULL;
}
// replyBuf(handle, req, buffer)
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  void *data; size_t len; napi_get_buffer_info(env, argv[2], &data, &len);
  fuse_reply_buf(req, data, len);
  answered(m); return NULL;
}
// replyXattrSize(handle, req, size)
static napi_value js_reply_xattr(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  fuse_reply_xattr(req, (size_t) get_num(env, argv[2]));
  answered(m); return NULL;
}
// Entry i of names[] (Buffers) as a C string in out; false if it does not fit.
static int entry_name(napi_env env, napi_value names, uint32_t i, char *out, size_t max) {
  napi_value e; void *p; size_t len;
  napi_get_element(env, names, i, &e);
  napi_get_buffer_info(env, e, &p, &len);
  if (len >= max) return 0;
  memcpy(out, p, len); out[len] = 0;
  return 1;
}
// replyDir(handle, req, maxSize, names[], Float64Array stats, firstIndex, plus, timeoutSeconds)
// Entries from firstIndex on, as many as fit in maxSize; stats holds STAT_FIELDS numbers per entry
// from firstIndex; entry i gets offset i + 1 (where the next readdir resumes). plus (readdirplus)
// sends each entry's attributes too, except where nlink is 0 ("." and ".."): the kernel looks
// those up as usual.
static napi_value js_reply_dir(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(8);
  size_t size = (size_t) get_num(env, argv[2]);
  uint32_t n = 0; napi_get_array_length(env, argv[3], &n);
  void *stats_p; size_t ns; napi_typedarray_type t; napi_value ab; size_t off;
  napi_get_typedarray_info(env, argv[4], &t, &ns, &stats_p, &ab, &off);
  double *stats = stats_p;
  uint32_t first = (uint32_t) get_num(env, argv[5]);
  int plus = get_num(env, argv[6]) != 0;
  double timeout = get_num(env, argv[7]);
  char *buf = malloc(size ? size : 1);
  if (!buf) { fuse_reply_err(req, ENOMEM); answered(m); return NULL; }
  size_t pos = 0;
  for (uint32_t i = first; i < n && (i - first + 1) * STAT_FIELDS <= ns; i++) {
    char name[1024];
    if (!entry_name(env, argv[3], i, name, sizeof name)) continue;
    struct fuse_entry_param p; memset(&p, 0, sizeof p);
    stat_from(stats + (size_t) (i - first) * STAT_FIELDS, &p.attr);
    size_t need;
    if (plus) {
      if (p.attr.st_nlink > 0) { p.ino = p.attr.st_ino; p.attr_timeout = p.entry_timeout = timeout; }
      need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &p, (off_t) i + 1);
    } else {
      need = fuse_add_direntry(req, buf + pos, size - pos, name, &p.attr, (off_t) i + 1); // inode and type only
    }
    if (need > size - pos) break;
    pos += need;
  }
  fuse_reply_buf(req, buf, pos);
  free(buf);
  answered(m); return NULL;
}
// replyStatfs(handle, req, Float64Array [bsize, blocks, bfree, bavail, files, ffree, namemax])
static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  REPLY_PROLOGUE(3);
  void *data = NULL; size_t len = 0; napi_typedarray_type type; napi_value ab; size_t off;
  napi_get_typedarray_info(env, argv[2], &type, &len, &data, &ab, &off);
  struct statvfs s; memset(&s, 0, sizeof s);
  if (type == napi_float64_array && len >= 7) {
    double *v = data;
    s.f_bsize = s.f_frsize = (unsigned long) v[0];
    s.f_blocks = (fsblkcnt_t) v[1]; s.f_bfree = (fsblkcnt_t) v[2]; s.f_bavail = (fsblkcnt_t) v[3];
    s.f_files = (fsfilcnt_t) v[4]; s.f_ffree = s.f_favail = (fsfilcnt_t) v[5]; s.f_namemax = (unsigned long) v[6];
  }
  fuse_reply_statfs(req, &s);
  answered(m); return NULL;
}

// releaseFreeMemory(minBytes) -> bytes free in malloc's heaps when called. Past minBytes, gives
// their free pages back to the kernel (malloc_trim): chunks under the mmap threshold live in the
// heap, and once the cache drops many of them glibc keeps the memory (it trims only the heap's top).
static napi_value js_release_free_memory(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value argv[1]; double min_bytes = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1) napi_get_value_double(env, argv[0], &min_bytes);
  double free_bytes = 0;
#ifdef __GLIBC__
  struct mallinfo2 info2 = mallinfo2();
  free_bytes = (double) info2.fordblks;
  if (free_bytes >= min_bytes) malloc_trim(0);
#endif
  napi_value result;
  napi_create_double(env, free_bytes, &result);
  return result;
}

static napi_value Init(napi_env env, napi_value exports) {
#ifdef __GLIBC__
  /* File contents pass through this process in buffers of a chunk (1 MiB) and its shards. glibc
     raises its mmap threshold after such buffers are freed and then keeps later ones in its heap,
     which it rarely gives back: resident memory grew hundreds of MB past the cache bound. A fixed
     threshold maps them, and returns them at free. */
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
  napi_property_descriptor d[] = {
    { "mount", 0, js_mount, 0, 0, 0, napi_default, 0 },
    { "unmount", 0, js_unmount, 0, 0, 0, napi_default, 0 },
    { "dispose", 0, js_dispose, 0, 0, 0, napi_default, 0 },
    { "replyErr", 0, js_reply_err, 0, 0, 0, napi_default, 0 },
    { "replyEntry", 0, js_reply_entry, 0, 0, 0, napi_default, 0 },
    { "replyCreate", 0, js_reply_create, 0, 0, 0, napi_default, 0 },
    { "replyAttr", 0, js_reply_attr, 0, 0, 0, napi_default, 0 },
    { "replyReadlink", 0, js_reply_readlink, 0, 0, 0, napi_default, 0 },
    { "replyOpen", 0, js_reply_open, 0, 0, 0, napi_default, 0 },
    { "replyWrite", 0, js_reply_write, 0, 0, 0, napi_default, 0 },
    { "replyBuf", 0, js_reply_buf, 0, 0, 0, napi_default, 0 },
    { "replyXattr", 0, js_reply_xattr, 0, 0, 0, napi_default, 0 },
    { "replyDir", 0, js_reply_dir, 0, 0, 0, napi_default, 0 },
    { "replyStatfs", 0, js_reply_statfs, 0, 0, 0, napi_default, 0 },
    { "releaseFreeMemory", 0, js_release_free_memory, 0, 0, 0, napi_default, 0 },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

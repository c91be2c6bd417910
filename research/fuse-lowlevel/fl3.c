// Prototype: N-API binding over libfuse3 low-level API.
// fuse session loop runs on its own pthread; every request is handed to JS through a
// napi_threadsafe_function and answered from JS by calling reply* (fuse_reply_* from the JS thread).
#define FUSE_USE_VERSION 34
#define NAPI_VERSION 8
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>

enum { OP_INIT = 0, OP_LOOKUP, OP_FORGET, OP_GETATTR, OP_SETATTR, OP_MKDIR, OP_UNLINK, OP_RMDIR,
       OP_RENAME, OP_OPEN, OP_READ, OP_WRITE, OP_FLUSH, OP_RELEASE, OP_FSYNC, OP_READDIR,
       OP_STATFS, OP_CREATE, OP_OPENDIR, OP_RELEASEDIR };

typedef struct {
  int op;
  fuse_req_t req;
  fuse_ino_t ino, ino2;
  char *name, *name2;
  uint64_t fh;
  int64_t off;
  size_t size;
  int flags, to_set;
  unsigned mode;
  struct stat attr;
  char *buf;           // copied write payload (owned, freed by the JS Buffer finalizer)
  uid_t uid; gid_t gid; pid_t pid;
  int has_fh;
} job_t;

typedef struct {
  struct fuse_session *se;
  pthread_t thread;
  napi_threadsafe_function tsfn;
  char *mountpoint;
  unsigned max_write, max_readahead, max_background;
  int mt;
} mount_t;

static mount_t *M = NULL;

static job_t *job_new(int op, fuse_req_t req, fuse_ino_t ino) {
  job_t *j = calloc(1, sizeof(job_t));
  j->op = op; j->req = req; j->ino = ino;
  if (req) {
    const struct fuse_ctx *c = fuse_req_ctx(req);
    j->uid = c->uid; j->gid = c->gid; j->pid = c->pid;
  }
  return j;
}
static void submit(job_t *j) {
  if (napi_call_threadsafe_function(M->tsfn, j, napi_tsfn_nonblocking) != napi_ok) {
    if (j->req) fuse_reply_err(j->req, EIO);
    free(j->name); free(j->name2); free(j->buf); free(j);
  }
}

static void ll_init(void *ud, struct fuse_conn_info *conn) {
  if (M->max_write) conn->max_write = M->max_write;
  if (M->max_readahead) conn->max_readahead = M->max_readahead;
  if (M->max_background) conn->max_background = M->max_background;
  if (getenv("WBC") && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  if (getenv("SPLICE")) conn->want |= (conn->capable & (FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_MOVE | FUSE_CAP_SPLICE_WRITE));
  fprintf(stderr, "[fl3] init: proto %u.%u max_write=%u max_readahead=%u max_background=%u capable=%#x want=%#x\n",
          conn->proto_major, conn->proto_minor, conn->max_write, conn->max_readahead, conn->max_background,
          conn->capable, conn->want);
}
static void ll_lookup(fuse_req_t r, fuse_ino_t p, const char *name) { job_t *j = job_new(OP_LOOKUP, r, p); j->name = strdup(name); submit(j); }
static void ll_forget(fuse_req_t r, fuse_ino_t ino, uint64_t n) { fuse_reply_none(r); }
static void ll_getattr(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { submit(job_new(OP_GETATTR, r, ino)); }
static void ll_setattr(fuse_req_t r, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_SETATTR, r, ino); j->attr = *attr; j->to_set = to_set; if (fi) { j->fh = fi->fh; j->has_fh = 1; } submit(j);
}
static void ll_mkdir(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode) { job_t *j = job_new(OP_MKDIR, r, p); j->name = strdup(name); j->mode = mode; submit(j); }
static void ll_unlink(fuse_req_t r, fuse_ino_t p, const char *name) { job_t *j = job_new(OP_UNLINK, r, p); j->name = strdup(name); submit(j); }
static void ll_rmdir(fuse_req_t r, fuse_ino_t p, const char *name) { job_t *j = job_new(OP_RMDIR, r, p); j->name = strdup(name); submit(j); }
static void ll_rename(fuse_req_t r, fuse_ino_t p, const char *name, fuse_ino_t np, const char *nn, unsigned int flags) {
  job_t *j = job_new(OP_RENAME, r, p); j->name = strdup(name); j->ino2 = np; j->name2 = strdup(nn); j->flags = flags; submit(j);
}
static void ll_open(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { job_t *j = job_new(OP_OPEN, r, ino); j->flags = fi->flags; submit(j); }
static void ll_opendir(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { fuse_reply_open(r, fi); }
static void ll_releasedir(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { fuse_reply_err(r, 0); }
static void ll_read(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_READ, r, ino); j->size = size; j->off = off; j->fh = fi->fh; submit(j);
}
static void ll_write(fuse_req_t r, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_WRITE, r, ino); j->size = size; j->off = off; j->fh = fi->fh;
  j->buf = malloc(size ? size : 1); memcpy(j->buf, buf, size);   // libfuse reuses its buffer once we return
  submit(j);
}
static void ll_flush(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { job_t *j = job_new(OP_FLUSH, r, ino); j->fh = fi->fh; submit(j); }
static void ll_release(fuse_req_t r, fuse_ino_t ino, struct fuse_file_info *fi) { job_t *j = job_new(OP_RELEASE, r, ino); j->fh = fi->fh; submit(j); }
static void ll_fsync(fuse_req_t r, fuse_ino_t ino, int ds, struct fuse_file_info *fi) { job_t *j = job_new(OP_FSYNC, r, ino); j->fh = fi->fh; j->flags = ds; submit(j); }
static void ll_readdir(fuse_req_t r, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_READDIR, r, ino); j->size = size; j->off = off; submit(j);
}
static void ll_statfs(fuse_req_t r, fuse_ino_t ino) { submit(job_new(OP_STATFS, r, ino)); }
static void ll_create(fuse_req_t r, fuse_ino_t p, const char *name, mode_t mode, struct fuse_file_info *fi) {
  job_t *j = job_new(OP_CREATE, r, p); j->name = strdup(name); j->mode = mode; j->flags = fi->flags; submit(j);
}

static const struct fuse_lowlevel_ops ops = {
  .init = ll_init, .lookup = ll_lookup, .forget = ll_forget, .getattr = ll_getattr, .setattr = ll_setattr,
  .mkdir = ll_mkdir, .unlink = ll_unlink, .rmdir = ll_rmdir, .rename = ll_rename, .open = ll_open,
  .read = ll_read, .write = ll_write, .flush = ll_flush, .release = ll_release, .fsync = ll_fsync,
  .opendir = ll_opendir, .readdir = ll_readdir, .releasedir = ll_releasedir, .statfs = ll_statfs, .create = ll_create,
};

// ---- JS side of the hand-off ----
static void free_buf(napi_env env, void *data, void *hint) { free(data); }
static napi_value num(napi_env env, double v) { napi_value x; napi_create_double(env, v, &x); return x; }
static napi_value str(napi_env env, const char *s) { napi_value x; if (!s) { napi_get_null(env, &x); return x; } napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &x); return x; }

static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  job_t *j = data;
  if (env == NULL) { free(j->name); free(j->name2); free(j->buf); free(j); return; }
  // args: op, req, ino, uid, gid, pid, a, b, c, d
  napi_value argv[10], undef, req;
  napi_get_undefined(env, &undef);
  for (int i = 0; i < 10; i++) argv[i] = undef;
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t) j->req, &req);
  argv[0] = num(env, j->op); argv[1] = req; argv[2] = num(env, (double) j->ino);
  argv[3] = num(env, j->uid); argv[4] = num(env, j->gid); argv[5] = num(env, j->pid);
  switch (j->op) {
    case OP_LOOKUP: case OP_UNLINK: case OP_RMDIR: argv[6] = str(env, j->name); break;
    case OP_MKDIR: argv[6] = str(env, j->name); argv[7] = num(env, j->mode); break;
    case OP_CREATE: argv[6] = str(env, j->name); argv[7] = num(env, j->mode); argv[8] = num(env, j->flags); break;
    case OP_RENAME: argv[6] = str(env, j->name); argv[7] = num(env, (double) j->ino2); argv[8] = str(env, j->name2); argv[9] = num(env, j->flags); break;
    case OP_OPEN: argv[6] = num(env, j->flags); break;
    case OP_READ: case OP_READDIR: argv[6] = num(env, (double) j->fh); argv[7] = num(env, (double) j->size); argv[8] = num(env, (double) j->off); break;
    case OP_WRITE: {
      napi_value b; napi_create_external_buffer(env, j->size, j->buf, free_buf, NULL, &b); j->buf = NULL;
      argv[6] = num(env, (double) j->fh); argv[7] = b; argv[8] = num(env, (double) j->off); break;
    }
    case OP_FLUSH: case OP_RELEASE: argv[6] = num(env, (double) j->fh); break;
    case OP_FSYNC: argv[6] = num(env, (double) j->fh); argv[7] = num(env, j->flags); break;
    case OP_SETATTR: {
      // [to_set, mode, uid, gid, size, atime_s, atime_ns, mtime_s, mtime_ns]
      napi_value a; napi_create_array_with_length(env, 9, &a);
      double v[9] = { j->to_set, j->attr.st_mode, j->attr.st_uid, j->attr.st_gid, (double) j->attr.st_size,
                      (double) j->attr.st_atim.tv_sec, (double) j->attr.st_atim.tv_nsec,
                      (double) j->attr.st_mtim.tv_sec, (double) j->attr.st_mtim.tv_nsec };
      for (int i = 0; i < 9; i++) napi_set_element(env, a, i, num(env, v[i]));
      argv[6] = a; break;
    }
  }
  napi_value global; napi_get_global(env, &global);
  napi_call_function(env, global, cb, 10, argv, NULL);
  free(j->name); free(j->name2); free(j->buf); free(j);
}

static void *loop_thread(void *arg) {
  int rc;
  if (M->mt) {
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 0);
    fuse_loop_cfg_set_max_threads(cfg, 4);
    rc = fuse_session_loop_mt(M->se, cfg);
    fuse_loop_cfg_destroy(cfg);
  } else {
    rc = fuse_session_loop(M->se);
  }
  fprintf(stderr, "[fl3] loop exited rc=%d\n", rc);
  return NULL;
}

// ---- exports ----
#define ARGS(n) size_t argc = n; napi_value argv[n]; napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
static fuse_req_t get_req(napi_env env, napi_value v) { uint64_t x; bool lossless; napi_get_value_bigint_uint64(env, v, &x, &lossless); return (fuse_req_t)(uintptr_t) x; }
static double get_num(napi_env env, napi_value v) { double d = 0; napi_get_value_double(env, v, &d); return d; }

// mount(mountpoint, argsArray, callback, {maxWrite, maxReadahead, maxBackground, mt})
static napi_value js_mount(napi_env env, napi_callback_info info) {
  ARGS(4)
  M = calloc(1, sizeof(mount_t));
  size_t len; char mp[4096]; napi_get_value_string_utf8(env, argv[0], mp, sizeof mp, &len); M->mountpoint = strdup(mp);
  uint32_t n; napi_get_array_length(env, argv[1], &n);
  char **av = calloc(n + 2, sizeof(char *)); av[0] = strdup("meshfs");
  for (uint32_t i = 0; i < n; i++) { napi_value e; char s[1024]; napi_get_element(env, argv[1], i, &e); napi_get_value_string_utf8(env, e, s, sizeof s, &len); av[i + 1] = strdup(s); }
  napi_value v;
  napi_get_named_property(env, argv[3], "maxWrite", &v); M->max_write = (unsigned) get_num(env, v);
  napi_get_named_property(env, argv[3], "maxReadahead", &v); M->max_readahead = (unsigned) get_num(env, v);
  napi_get_named_property(env, argv[3], "maxBackground", &v); M->max_background = (unsigned) get_num(env, v);
  napi_get_named_property(env, argv[3], "mt", &v); M->mt = (int) get_num(env, v);
  struct fuse_args args = FUSE_ARGS_INIT((int) n + 1, av);
  napi_value name; napi_create_string_utf8(env, "fl3", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &M->tsfn);
  M->se = fuse_session_new(&args, &ops, sizeof ops, NULL);
  if (!M->se) { napi_throw_error(env, NULL, "fuse_session_new failed"); return NULL; }
  if (fuse_session_mount(M->se, M->mountpoint) != 0) { napi_throw_error(env, NULL, "fuse_session_mount failed"); return NULL; }
  pthread_create(&M->thread, NULL, loop_thread, NULL);
  return NULL;
}
static napi_value js_unmount(napi_env env, napi_callback_info info) {
  fuse_session_exit(M->se);
  fuse_session_unmount(M->se);   // as root: umount2(); otherwise fusermount3 -u
  pthread_join(M->thread, NULL);
  fuse_session_destroy(M->se);
  napi_release_threadsafe_function(M->tsfn, napi_tsfn_abort);
  return NULL;
}
static void fill_stat(napi_env env, napi_value a, struct stat *st) {
  // Float64Array-like JS array: [ino, mode, nlink, uid, gid, size, atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns]
  double v[12]; for (int i = 0; i < 12; i++) { napi_value e; napi_get_element(env, a, i, &e); v[i] = get_num(env, e); }
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t) v[0]; st->st_mode = (mode_t) v[1]; st->st_nlink = (nlink_t) v[2]; st->st_uid = (uid_t) v[3]; st->st_gid = (gid_t) v[4];
  st->st_size = (off_t) v[5]; st->st_blocks = (st->st_size + 511) / 512; st->st_blksize = 1 << 20;
  st->st_atim.tv_sec = (time_t) v[6]; st->st_atim.tv_nsec = (long) v[7];
  st->st_mtim.tv_sec = (time_t) v[8]; st->st_mtim.tv_nsec = (long) v[9];
  st->st_ctim.tv_sec = (time_t) v[10]; st->st_ctim.tv_nsec = (long) v[11];
}
static napi_value js_reply_err(napi_env env, napi_callback_info info) { ARGS(2) fuse_reply_err(get_req(env, argv[0]), (int) get_num(env, argv[1])); return NULL; }
static napi_value js_reply_entry(napi_env env, napi_callback_info info) {
  ARGS(3) struct fuse_entry_param e; memset(&e, 0, sizeof e); fill_stat(env, argv[1], &e.attr); e.ino = e.attr.st_ino;
  e.attr_timeout = e.entry_timeout = get_num(env, argv[2]); fuse_reply_entry(get_req(env, argv[0]), &e); return NULL;
}
static napi_value js_reply_create(napi_env env, napi_callback_info info) {
  ARGS(4) struct fuse_entry_param e; memset(&e, 0, sizeof e); fill_stat(env, argv[1], &e.attr); e.ino = e.attr.st_ino;
  e.attr_timeout = e.entry_timeout = get_num(env, argv[3]);
  struct fuse_file_info fi; memset(&fi, 0, sizeof fi); fi.fh = (uint64_t) get_num(env, argv[2]);
  fuse_reply_create(get_req(env, argv[0]), &e, &fi); return NULL;
}
static napi_value js_reply_attr(napi_env env, napi_callback_info info) {
  ARGS(3) struct stat st; fill_stat(env, argv[1], &st); fuse_reply_attr(get_req(env, argv[0]), &st, get_num(env, argv[2])); return NULL;
}
static napi_value js_reply_open(napi_env env, napi_callback_info info) {
  ARGS(3) struct fuse_file_info fi; memset(&fi, 0, sizeof fi); fi.fh = (uint64_t) get_num(env, argv[1]); fi.keep_cache = (int) get_num(env, argv[2]);
  fuse_reply_open(get_req(env, argv[0]), &fi); return NULL;
}
static napi_value js_reply_write(napi_env env, napi_callback_info info) { ARGS(2) fuse_reply_write(get_req(env, argv[0]), (size_t) get_num(env, argv[1])); return NULL; }
static napi_value js_reply_buf(napi_env env, napi_callback_info info) {
  ARGS(2) void *data; size_t len; napi_get_buffer_info(env, argv[1], &data, &len); fuse_reply_buf(get_req(env, argv[0]), data, len); return NULL;
}
// replyDir(req, size, off, [[name, ino, mode], ...]) -- entries from index off
static napi_value js_reply_dir(napi_env env, napi_callback_info info) {
  ARGS(4) fuse_req_t req = get_req(env, argv[0]); size_t size = (size_t) get_num(env, argv[1]); off_t off = (off_t) get_num(env, argv[2]);
  uint32_t n; napi_get_array_length(env, argv[3], &n);
  char *buf = malloc(size); size_t pos = 0;
  for (uint32_t i = (uint32_t) off; i < n; i++) {
    napi_value e, x; napi_get_element(env, argv[3], i, &e);
    char name[1024]; size_t l; napi_get_element(env, e, 0, &x); napi_get_value_string_utf8(env, x, name, sizeof name, &l);
    struct stat st; memset(&st, 0, sizeof st);
    napi_get_element(env, e, 1, &x); st.st_ino = (ino_t) get_num(env, x);
    napi_get_element(env, e, 2, &x); st.st_mode = (mode_t) get_num(env, x);
    size_t need = fuse_add_direntry(req, buf + pos, size - pos, name, &st, i + 1);
    if (need > size - pos) break;
    pos += need;
  }
  fuse_reply_buf(req, buf, pos); free(buf); return NULL;
}
static napi_value js_reply_statfs(napi_env env, napi_callback_info info) {
  ARGS(1) struct statvfs s; memset(&s, 0, sizeof s); s.f_bsize = s.f_frsize = 4096; s.f_blocks = 1 << 24; s.f_bfree = s.f_bavail = 1 << 23; s.f_namemax = 255;
  fuse_reply_statfs(get_req(env, argv[0]), &s); return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    { "mount", 0, js_mount, 0, 0, 0, napi_default, 0 }, { "unmount", 0, js_unmount, 0, 0, 0, napi_default, 0 },
    { "replyErr", 0, js_reply_err, 0, 0, 0, napi_default, 0 }, { "replyEntry", 0, js_reply_entry, 0, 0, 0, napi_default, 0 },
    { "replyCreate", 0, js_reply_create, 0, 0, 0, napi_default, 0 }, { "replyAttr", 0, js_reply_attr, 0, 0, 0, napi_default, 0 },
    { "replyOpen", 0, js_reply_open, 0, 0, 0, napi_default, 0 }, { "replyWrite", 0, js_reply_write, 0, 0, 0, napi_default, 0 },
    { "replyBuf", 0, js_reply_buf, 0, 0, 0, napi_default, 0 }, { "replyDir", 0, js_reply_dir, 0, 0, 0, napi_default, 0 },
    { "replyStatfs", 0, js_reply_statfs, 0, 0, 0, napi_default, 0 },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}
NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

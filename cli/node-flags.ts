// V8 flags every meshfs process runs with (bin/meshfs.js's first line repeats them: a shebang
// cannot import). A meshfs process keeps about 11 MB of JavaScript objects beside hundreds of MB
// of buffers; with so small a heap V8 kept its old-generation limit so tight that it started a
// full (mark-compact) collection every 100-300 ms while buffers came and went: 281 of them in a
// 10 s random-I/O run, 5 s of its helper threads' CPU (bench/profile-mount.ts random 10, with
// MESHFS_TRACE_GC=1). Starting the limit at 64 MB: 67 collections, the mount's CPU down by a fifth.
export const NODE_FLAGS = ['--initial-old-space-size=64']

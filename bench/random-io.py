# 4 KiB random reads and writes (half each, 4 KiB aligned) on FILE for SECONDS, then fsync:
# prints the operations done, the seconds taken and those of the final fsync, as JSON. Usage: random-io.py FILE SECONDS
import json, os, random, sys, time

path, seconds = sys.argv[1], float(sys.argv[2])
size = os.path.getsize(path)
blocks = size // 4096
fd = os.open(path, os.O_RDWR)
data = os.urandom(4096)
rng = random.Random(1)
ops = 0
start = time.monotonic()
while time.monotonic() - start < seconds:
    offset = rng.randrange(blocks) * 4096
    if ops % 2 == 0:
        os.pread(fd, 4096, offset)
    else:
        os.pwrite(fd, data, offset)
    ops += 1
synced = time.monotonic()
os.fsync(fd)
os.close(fd)
end = time.monotonic()
print(json.dumps({"ops": ops, "seconds": end - start, "fsync_seconds": end - synced}))

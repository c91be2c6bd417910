#!/bin/bash
# usage: bench.sh MNT LABEL PID  -> one warm-up, then 3 measured runs (write conv=fdatasync, read after drop_caches)
M=$1; L=$2; P=$3
for i in 0 1 2 3; do
  rm -f $M/f
  w=$(dd if=/dev/zero of=$M/f bs=1M count=512 conv=fdatasync 2>&1 | tail -1 | awk '{print $(NF-1), $NF}')
  echo 3 > /proc/sys/vm/drop_caches
  r=$(dd if=$M/f of=/dev/null bs=1M 2>&1 | tail -1 | awk '{print $(NF-1), $NF}')
  [ $i -gt 0 ] && echo "$L run$i  write $w   read $r"
  [ $i -eq 0 ] && kill -USR2 $P 2>/dev/null
done
kill -USR2 $P 2>/dev/null; sleep 0.3
rm -f $M/f

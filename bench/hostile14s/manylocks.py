#!/usr/bin/env python3
"""Hostile pass 14 (server): another process holding N POSIX locks (every other byte of F scratch files,
N/F each: the kernel keeps a file's locks in one list, so spreading them keeps taking them fast), so that
/proc/locks, which the server reads at each open of the index and while it refuses a replaced one, has
N lines more. Holds them until killed. Usage: manylocks.py DIR N [F]"""
import fcntl, os, sys, time
d, n = sys.argv[1], int(sys.argv[2]); f = int(sys.argv[3]) if len(sys.argv) > 3 else 100
os.makedirs(d, exist_ok=True)
fds = []
for j in range(f):
    fd = os.open(os.path.join(d, f'locks{j}.bin'), os.O_RDWR | os.O_CREAT, 0o600); fds.append(fd)
    os.ftruncate(fd, 2 * (n // f))
    for i in range(n // f): fcntl.lockf(fd, fcntl.LOCK_EX, 1, 2 * i, os.SEEK_SET)
print('holding', n, 'locks', flush=True)
time.sleep(10 ** 6)

"""The server's CPU seconds per request (from /proc/PID/stat), for cpu13.py and pass 14's cpu14.py."""
import os, time, urllib.error, urllib.request
TICK = os.sysconf('SC_CLK_TCK')
def cpu(pid):
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK
def timed_get(port, pid, path):
    """(status, body, CPU seconds, wall seconds) of GET path."""
    t0, c0 = time.time(), cpu(pid)
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=600) as r: st, b = r.status, r.read()
    except urllib.error.HTTPError as e: st, b = e.code, e.read()
    return st, b, cpu(pid) - c0, time.time() - t0

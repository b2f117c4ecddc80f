#!/usr/bin/python3
"""Hostile pass 15: runs the clapsearch binary named by $CLAPSEARCH_REAL starved of CPU, stopped
(SIGSTOP) for STARVE_OFF seconds after each STARVE_ON seconds it runs (default 0.1 / 0.3): a loaded
machine for that process alone. Given to tests/integrations/mpd_history_test.py as the binary, to
look for Mpd.History's backup_put_back failure of pass 14 under load:
    CLAPSEARCH_REAL=build/clapsearch python3 tests/integrations/mpd_history_test.py bench/hostile15p/starve.py MODEL"""
import os, signal, subprocess, sys, time
import ctypes
# Killed with this wrapper (the test kills the wrapper; a child left stopped would stay forever).
child = subprocess.Popen([os.path.abspath(os.environ['CLAPSEARCH_REAL'])] + sys.argv[1:],
                         preexec_fn=lambda: ctypes.CDLL(None).prctl(1, signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
def fwd(sig, _):
    try: os.kill(child.pid, signal.SIGCONT); os.kill(child.pid, sig)
    except ProcessLookupError: pass
signal.signal(signal.SIGTERM, fwd); signal.signal(signal.SIGINT, fwd)
on, off = float(os.environ.get('STARVE_ON', '0.1')), float(os.environ.get('STARVE_OFF', '0.3'))
while child.poll() is None:
    time.sleep(on)
    try: os.kill(child.pid, signal.SIGSTOP)
    except ProcessLookupError: break
    time.sleep(off)
    try: os.kill(child.pid, signal.SIGCONT)
    except ProcessLookupError: break
sys.exit(child.wait())

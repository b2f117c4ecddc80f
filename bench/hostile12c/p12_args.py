#!/usr/bin/env python3
"""Hostile pass 12: non-numeric hostile arguments to the exploring commands (path, playlist, classify,
analyze, map, matrix, overlaps, like, similar, history, user). Usage (in $W; C = the binary): p12_args.py"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h12c'))
open('many_labels.txt', 'w').write(','.join(f'l{i}' for i in range(20000)))
os.system('rm -f q.fifo; mkfifo q.fifo; printf "a\\0b\\n" > nulq.txt; head -c 3000000 /dev/zero | tr "\\0" "x" > longq.txt')
A = ['path 1 1', 'path 1 999999', 'path 0 1', 'path -1 2', 'path lib/t1.flac lib/t1.flac', 'path 1 2 --steps 0', 'path 1 2 --steps 100000',
     'playlist --seed 1 --seed 1 --seed 1', 'playlist --seed 99999', 'playlist --seed ""', 'playlist --seed lib', 'playlist --seed /dev/zero',
     'playlist --seeds-from /dev/zero', 'playlist --seeds-from q.fifo', 'playlist --seeds-from nulq.txt', 'playlist --text "" --seed 1',
     'classify --labels "$(cat many_labels.txt)" --all', 'classify --labels ",,," --all', 'classify --labels "a,a,a" --all', 'classify --labels "" --all',
     'analyze --queries /dev/zero --csv /dev/null', 'analyze --queries q.fifo --csv /dev/null', 'analyze --queries nulq.txt --csv /dev/null',
     'analyze --queries longq.txt --csv /dev/null', 'analyze -q "" --csv /dev/null',
     'map --out /dev/full', 'map --out lib', 'map --out x.exe', 'map --out ""', 'matrix --csv lib', 'matrix --csv /dev/full',
     'like /dev/zero', 'like q.fifo', 'like lib', 'like ""', 'like lib/t1.flac --seed lib/t1.flac', 'similar 0', 'similar -1', 'similar 1e3',
     'similar "lib/t1.flac/.."', 'similar "$(printf \'\\x1b[2J\')"', 'search "$(cat longq.txt)"', 'search "$(printf \'a\\x1b[2Jb\')"',
     'history --user "$(printf \'\\x1b[2J\')"', 'user add "$(printf \'a\\nb\')" --password-file /dev/null', 'user add "" --password-file /dev/null',
     'user remove nobody', 'overlaps --track 999', 'duplicates --keep nonsense', 'search x --where "path ~ \\"(((\\""']
for a in A:
    case('args', f'timeout 120 $C {a} --db hist.db', expect=(0, 1, 2), timeout=150,
         check=lambda rc, out, err: 'RAW ' + err[:100] if any(x in err for x in ('nlohmann', 'SELECT', 'terminate called', '\x1b', 'At Most', 'Could not convert')) else '')
summary()

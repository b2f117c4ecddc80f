import sys, os
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h11c'))
import subprocess
subprocess.run('cp hist.db mx.db; cp hist.db.key mx.db.key; rm -f mx.db-wal mx.db-shm', shell=True)
D = '--db mx.db'
# mix
for a in ['--count 0', '--count -1', '--count 100000', '--size 0', '--size 1000000', '--user nobody', '--user ""', '--new 2', '--new -1',
          '--json --csv x.csv', '--no-save --json', '--json', '--where "genre = 1"', '--where "$(head -c 100000 /dev/zero | tr \\\\0 a)"',
          '--since 99999999999', '--name "$(printf \'\\x1b[31m\')"']:
    case('mix', f'$C mix {a} {D}', expect=(0, 1, 2), check=(jsonok if '--json' in a else None))
case('mix-ro', 'chmod 444 mx.db; $C mix --db mx.db; rc=$?; chmod 644 mx.db; exit $rc', expect=(0, 1))
case('mix-twice-det', 'a=$($C mix --no-save --json --db mx.db); b=$($C mix --no-save --json --db mx.db --threads 1); [ "$a" = "$b" ]', expect=0)
# models
for a in ['', '--json', '--activate 99', '--activate 0', '--activate -1', '--drop 1', '--drop 99', '--activate 1 --drop 1', '--activate abc']:
    case('models', f'$C models {a} {D}', expect=(0, 1, 2), check=(jsonok if '--json' in a else None))
# doctor
for a in ['--model M', '--model M --json', '--model /dev/zero', '--model /nonexistent', '--model M --fidelity lib', '--model M --fidelity /dev/zero',
          '--model M --fidelity /nonexistent', f'{D}', f'{D} --fix-reused-ids', f'{D} --json', '--model M --fidelity hx']:
    case('doctor', f'timeout 200 $C doctor {a}', expect=(0, 1, 2), timeout=220, check=(jsonok if '--json' in a else None))
# bench
for a in ['--model M --seconds 0.5', '--model M --seconds 0', '--model M --seconds -1', '--model M --seconds 1e308', '--model M --seconds nan',
          '--model M --audio lib/t1.flac --seconds 0.5', '--model M --audio /dev/zero --seconds 0.5', '--model M --audio hx/fifo.jsonl --seconds 0.5',
          '--model M --json --seconds 0.5', '--model /dev/null', '--model M --serve-tracks 0 --seconds 0.5', '--model M --serve-tracks 100000000 --seconds 0.5']:
    case('bench', f'timeout 200 $C bench {a}', expect=(0, 1, 2), timeout=220, check=(jsonok if '--json' in a else None))
summary()

# Outputs: stdout closed, /dev/full, a pipe closed early, a file-size limit, for every reading command.
import sys; sys.path.insert(0,'/tmp/h10c'); from h import *
import os; os.chdir('/tmp/h10c')
CMDS = ['status','status --json','search x','search x --json','search x -k 0 --json','similar lib/t1.flac','similar lib/t1.flac --json',
 'playlist --seed 1 -n 4','playlist --seed 1 --json','path 1 2','path 1 2 --json','duplicates','duplicates --json','overlaps','overlaps --json',
 'models','models --json','history','history --json','user list','matrix','matrix --json','classify --labels a,b --all','classify --labels a,b --all --json',
 'analyze -q x','analyze -q x --json','like lib/t1.flac','like lib/t1.flac --json','search x --csv -','history export']
NODB = ['completion bash','--help','search --help','--version','embed --text hi --model M','doctor --model M','doctor --model M --json','embed --text hi --model M --json' ]
for c in CMDS + NODB:
    base = f'$C {c}' + ('' if c in NODB else ' --db lib.db')
    case('out-closed', base + ' >&-', expect=1)
    case('out-full', base + ' >/dev/full', expect=1)
    case('out-head', base + ' | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}', expect=(0,141,1))
    case('out-fsize', 'ulimit -f 0; ' + base + ' > /tmp/h10c/fs.out', expect=1)
    case('out-json', base, check=(jsonok if '--json' in c else None), expect=0)
summary()

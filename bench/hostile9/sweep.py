#!/usr/bin/env python3
"""Hostile pass 9: every numeric option of every CLI command with hostile values.
Flags: rc>=124 (hang/crash), rc 0 on a value that must be refused, an error not naming the option."""
import subprocess, sys, os, json, re
C = sys.argv[1]; W = sys.argv[2]
os.chdir(W)
BASE = {
 'index': ['index','lib','--db','idx.db','--model','M'],
 'search': ['search','x','--db','lib.db'],
 'like': ['like','lib/t1.flac','--db','lib.db'],
 'similar': ['similar','lib/t1.flac','--db','lib.db'],
 'playlist': ['playlist','--seed','1','--db','lib.db'],
 'path': ['path','1','2','--db','lib.db'],
 'radio': ['radio','--mpd','127.0.0.1:1','--once','--db','lib.db'],
 'taste': ['taste','--db','hist.db'],
 'mix': ['mix','--db','hist.db','--no-save'],
 'duplicates': ['duplicates','--db','lib.db'],
 'overlaps': ['overlaps','--db','lib.db'],
 'classify': ['classify','--labels','a,b','--all','--db','lib.db'],
 'embed': ['embed','--text','hi','--model','M'],
 'finetune': ['finetune','--db','lib.db','--out','ft-out','--force'],
 'eval': ['eval','--db','hist.db'],
 'worker': ['worker','--db','postgresql://127.0.0.1:1/x'],
 'doctor': ['doctor','--model','M'],
 'analyze': ['analyze','-q','x','--db','lib.db'],
 'serve': ['serve','--db','lib.db','--port','0'],
}
def opts(cmd):
    out = subprocess.run([C]+[cmd,'--help'],capture_output=True,text=True).stdout
    res=[]
    for line in out.splitlines():
        m = re.match(r'\s+(?:-\w,)?(--[\w-]+) (INT|FLOAT|UINT|POSITIVE|COSINE|NUMBER)', line)
        if m: res.append((m.group(1), m.group(2), line.strip()))
    return res
BAD = ['nan','inf','-1','1e309','99999999999999999999','0x10','','1.5','-0','4294967297','1e-320']
TIMEOUT = {'serve':6,'finetune':40,'index':40}
rows=[]
seen=set()
for cmd, base in BASE.items():
    for opt, typ, line in opts(cmd):
        if line in seen: continue
        seen.add(line)
        if opt in ('--port',): pass
        vals = BAD if typ!='INT' and typ!='UINT' else BAD
        for v in vals:
            args=[C]+base+[opt, v] if not base[0]=='mix' else [C]+base+[opt,v]
            try:
                p=subprocess.run(args,capture_output=True,text=True,timeout=TIMEOUT.get(cmd,20),errors='replace')
                rc=p.returncode; err=p.stderr.strip().splitlines()
                err = ' | '.join(l for l in err if 'Run with --help' not in l)
            except subprocess.TimeoutExpired:
                rc='TIMEOUT'; err=''
            flag=''
            if rc=='TIMEOUT' and cmd!='serve': flag='HANG'
            elif isinstance(rc,int) and (rc<0 or rc>=124): flag='CRASH'
            elif rc!=0 and rc!='TIMEOUT' and opt.lstrip('-') not in err and opt not in err: flag='UNNAMED'
            rows.append(dict(cmd=cmd,opt=opt,val=v,rc=rc,err=err[:200],flag=flag))
            print(json.dumps(rows[-1]),flush=True)

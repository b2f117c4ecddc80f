# Hostile pass 17: every long option each command's --help lists, looked up in docs/commands.md
# (the section whose heading names the command, else the whole page; "Common options" counts for
# every command). Usage: python3 p17_docscan.py CLAPSEARCH docs/commands.md; prints what is missing.
import re,subprocess,sys
B=sys.argv[1]; doc=open(sys.argv[2]).read()
secs=re.split(r'(?m)^## ',doc)
def cmds(path):
    h=subprocess.run([B]+path+['--help'],capture_output=True,text=True).stdout
    sub=[]; opts=set()
    mode=None
    for line in h.splitlines():
        if re.match(r'^[A-Z][A-Za-z ]*:$',line) :
            mode=line.strip()
        m=re.match(r'^  ([a-z][a-z0-9-]*)\s',line)
        if m and mode and mode not in ('Options:','Positionals:'): sub.append(m.group(1))
        m2=re.match(r'^  (-\w,)?(--[a-z][a-z0-9-]*)',line)
        if m2 and mode=='Options:': opts.add(m2.group(2))
    return sub,opts,h
def walk(path):
    sub,opts,h=cmds(path)
    yield path,opts
    for s in sub: yield from walk(path+[s])
common=secs[1] if len(secs)>1 else ''
for path,opts in walk([]):
    name='clapsearch '+' '.join(path)
    top='clapsearch '+path[0] if path else 'clapsearch'
    own=[s for s in secs if path and ('`'+top+'`' in s.splitlines()[0] or '`'+name+'`' in s.splitlines()[0])]
    scope=''.join(own) if own else doc
    miss=[o for o in sorted(opts) if o not in scope and o not in common and o not in ('--help',)]
    if miss: print(name, 'own' if own else 'any', miss)

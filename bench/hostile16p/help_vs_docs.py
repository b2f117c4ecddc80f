#!/usr/bin/python3
"""Hostile pass 16 (a new user): every command's --help against docs/commands.md. For each
command `clapsearch --help` lists (and each `user`/`history`/`models` sub-command), the long
options its --help shows and those its synopsis block in docs/commands.md shows; prints the
differences either way (an option a user reads of and the binary refuses, or one the binary takes
that the docs never name) and any --help that fails or prints nothing.

    help_vs_docs.py CLAPSEARCH_BINARY DOCS_COMMANDS_MD"""
import re, subprocess, sys

binary, docs = sys.argv[1], open(sys.argv[2], encoding='utf-8').read()


def run(*args):
    r = subprocess.run([binary, *args], capture_output=True, text=True, env={'PATH': '/usr/bin:/bin', 'HOME': '/nonexistent'})
    return r.returncode, r.stdout + r.stderr


rc, top = run('--help')
commands = []
in_list = False
for line in top.splitlines():
    if re.match(r'^[A-Z][A-Za-z ]+:$', line.strip()):  # "Everyday commands:", "Library upkeep:", ...
        in_list = not line.startswith('Options')
        continue
    m = re.match(r'^\s{2}([a-z][a-z-]*)\s{2,}', line)
    if in_list and m:
        commands.append(m.group(1))
print(f'top --help rc {rc}; {len(commands)} commands: {" ".join(commands)}')

# The synopsis blocks: ``` blocks whose lines start with "clapsearch NAME [SUB]"; SUB is taken
# as a sub-command when `clapsearch NAME SUB --help` answers (else the line is NAME's).
subs = {}
def has_sub(name, sub):
    if (name, sub) not in subs:
        rc, text = run(name, sub, '--help')
        subs[(name, sub)] = rc == 0 and f'clapsearch {name} {sub}' in text
    return subs[(name, sub)]
synopsis = {}
for block in re.findall(r'```\n(.*?)```', docs, re.S):
    current = None
    for line in block.splitlines():
        m = re.match(r'^clapsearch ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?', line)
        if m and m.group(1) in commands:
            current = m.group(1) + (' ' + m.group(2) if m.group(2) and has_sub(m.group(1), m.group(2)) else '')
        elif not line.startswith(' '):
            current = None
        if current:
            synopsis.setdefault(current, set()).update(re.findall(r'(--[a-z][a-z0-9-]*)', line))

problems = 0
for name, documented in sorted(synopsis.items()):
    rc, text = run(*name.split(), '--help')
    if rc != 0 or not text.strip():
        print(f'FOUND {name} --help: rc {rc}: {text[-200:]!r}')
        problems += 1
        continue
    shown = set(re.findall(r'(--[a-z][a-z0-9-]*)', text)) - {'--help'}
    only_docs = sorted(documented - shown - {'--help'})
    only_help = sorted(shown - documented)
    if only_docs or only_help:
        problems += 1
        print(f'DIFF {name}: in the docs\' synopsis, not in --help: {only_docs}; in --help, not in the synopsis: {only_help}')
    else:
        print(f'same {name}: {len(shown)} options')
missing = [c for c in commands if c not in {n.split()[0] for n in synopsis}]
print(f'commands with no synopsis block in docs/commands.md: {missing}')
print(f'{len(synopsis)} synopses compared, {problems} with differences')

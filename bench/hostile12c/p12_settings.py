#!/usr/bin/env python3
"""Hostile pass 12: settings files (--config-file and $CLAPSEARCH_CONFIG_FILE) of hostile kinds and
contents, for search, index --plan, status and serve --help. Usage (in $W; C = the binary): p12_settings.py"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h12c'))
os.makedirs('cfg', exist_ok=True)
def w(n, b):
    p = f'cfg/{n}'
    if os.path.lexists(p): os.remove(p)
    open(p, 'wb').write(b if isinstance(b, bytes) else b.encode()); return p
F = {
 'deep_array': 'top = ' + '[' * 200000 + ']' * 200000 + '\n',
 'deep_inline': 'top = ' + '{a=' * 100000 + '1' + '}' * 100000 + '\n',
 'deep_table': ''.join('[' + '.'.join(['a'] * 2000) + ']\n' for _ in range(1)),
 'many_keys': ''.join(f'k{i} = {i}\n' for i in range(300000)),
 'huge_string': 'where = "' + 'a' * 50_000_000 + '"\n',
 'dup_key': 'top = 5\ntop = 6\n',
 'wrong_type': 'top = "five"\n', 'float_for_int': 'top = 5.5\n', 'neg': 'top = -5\n', 'bigint': 'top = 99999999999999999999\n',
 'nan': 'top = nan\n', 'inf': 'top = inf\n', 'bool': 'top = true\n', 'array': 'top = [1,2]\n',
 'bom': '\ufefftop = 5\n', 'nul': b'top = 5\x00\n', 'invalid_utf8': b'where = "\xff\xfe"\n',
 'lone_surrogate': b'where = "\xed\xa0\x80"\n', 'esc': 'where = "\x1b[31m"\n', 'esc_key': '\x1b[2J = 1\n',
 'unknown_key': 'frobnicate = 1\n', 'section_unknown': '[search]\ntop = 5\n', 'crlf': 'top = 5\r\n',
 'unterminated': 'where = "abc\n', 'only_comment': '# nothing\n', 'empty': '',
 'date': 'top = 1979-05-27T07:32:00Z\n', 'db_empty': 'db = ""\n', 'db_dir': 'db = "/"\n',
 'where_bad': 'where = "title ="\n', 'exclude_bad': 'exclude-rule = "((("\n',
}
# the same values inside the command's section, where they are read
for n in list(F):
    if n not in ('deep_table', 'many_keys', 'huge_string', 'bom', 'empty', 'only_comment', 'section_unknown', 'exclude_bad'):
        b = F[n]; F['s_' + n] = (b'[search]\n' + b) if isinstance(b, bytes) else '[search]\n' + b.replace('where_', '')
F['s_bom'] = '\ufeff[search]\ntop = 5\n'
for n, b in F.items():
    p = w(n, b)
    for cmd in ('search x --db lib.db -k 2', 'status --db lib.db', 'index lib --db lib.db --plan', 'similar 1 --db lib.db -k 2'):
        case('settings', f'$C {cmd} --config-file {p}', expect=(0, 1, 2), timeout=120,
             check=lambda rc, out, err: 'RAW ' + err[:100] if any(x in err for x in ('toml::', 'nlohmann', 'terminate called', '\x1b')) else '')
    case('settings-env', f'CLAPSEARCH_CONFIG_FILE={p} $C search x --db lib.db -k 2', expect=(0, 1, 2), timeout=120)
for kind, make in (('fifo', 'mkfifo cfg/fifo'), ('zero', 'ln -sf /dev/zero cfg/zero'), ('dir', 'mkdir -p cfg/dir'),
                   ('missing', 'true'), ('loop', 'ln -sf loop cfg/loop'), ('sparse', 'truncate -s 3G cfg/sparse')):
    case('settings-kind', f'rm -rf cfg/{kind}; {make}; $C search x --db lib.db -k 2 --config-file cfg/{kind}', expect=(1, 2), timeout=60)
summary()

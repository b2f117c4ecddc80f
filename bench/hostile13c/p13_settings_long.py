#!/usr/bin/env python3
"""Hostile pass 13: settings-file mistakes of 300,000 bytes (H13C-2): the error must show a part.
Usage (in $W; C = the binary): p13_settings_long.py"""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.environ.get('W', '/tmp/h13c')); os.makedirs('cfg13', exist_ok=True)
big = 'z' * 300000
T = {'us': '[search]\ntop = 1__' + '0' * 300000 + '\n', 'digits': '[search]\ntop = ' + '1' * 300000 + '\n', 'key': '[search]\n' + big + ' = 1\n',
     'qkey': '[search]\n"' + big + '!" = 1\n', 'after': '[search]\ntop = 5 ' + big + '\n', 'bare': '[search]\n=' + big + '\n',
     'aot': '[[search' + big + ']]\n', 'sect': '[' + big + ']\ntop=1\n', 'where': '[search]\nwhere = "' + big + '"\n',
     'db': '[search]\ndb = "' + big + '"\n', 'str_top': '[search]\ntop = "' + big + '"\n', 'esc_key': '[search]\n"\x1b[2J' + big + '" = 1\n'}
for k, v in T.items():
    p = f'cfg13/e_{k}.toml'; open(p, 'w').write(v)
    db = '' if k == 'db' else '--db lib.db'
    case('settings-long', f'$C search x {db} --config-file {p}', expect=(1, 2),
         check=lambda rc, out, err: f'LONG {len(err)}' if len(err) > 2000 else ('ESC' if '\x1b' in err else ''))
summary()

#!/usr/bin/env python3
"""Hostile pass 21 (server): sign-in with API keys and passwords as an attacker would try it.
- the time of a right and a wrong API key (same length, shorter, longer than the bound), of a
  wrong `p=` and `p=enc:` for a user who exists against one who does not (medians of N, by hand);
- apiKey with u= (a wrong key, a right one), with p=, t/s; apiKey given twice; an empty apiKey;
  `p=enc:` with odd length, non-hex, upper-case hex, `ENC:` prefix; t in upper case;
- the lockout: 5 wrong passwords for carol, then the right one (refused), under CAROL and an NFD
  spelling (counted together), bob's API key while bob is locked out (the docs: keys go on);
  u of 10,000 bytes, p of 60,000 bytes;
- the lockout across a restart: with --restart CMD (a shell command that restarts the server and
  waits for it), the locked user's right password after it (the lock is in memory: said by hand).
A flag: a 5xx, an ok for a credential that is wrong, a refusal for one that is right, an answer
that is not an envelope, or what the case says.
Usage: auth21.py PORT BOB_API_KEY [--restart CMD]"""
import hashlib, http.client, json, statistics, subprocess, sys, time, urllib.parse

PORT, KEY = int(sys.argv[1]), sys.argv[2]
RESTART = sys.argv[sys.argv.index('--restart') + 1] if '--restart' in sys.argv else None
flags, cases = [], 0


def flag(what):
    flags.append(what); print('FLAG', what, flush=True)


def call(params, ep='ping', post=False):
    q = urllib.parse.urlencode(dict(dict(v='1.16.1', c='a21', f='json'), **params) if isinstance(params, dict) else params + [('v', '1.16.1'), ('c', 'a21'), ('f', 'json')], doseq=True)
    c = http.client.HTTPConnection('127.0.0.1', PORT, timeout=30)
    t = time.perf_counter()
    try:
        if post: c.request('POST', f'/rest/{ep}', body=q, headers={'Content-Type': 'application/x-www-form-urlencoded'})
        else: c.request('GET', f'/rest/{ep}?{q}')
        r = c.getresponse(); b = r.read()
        dt = time.perf_counter() - t
        try:
            return r.status, json.loads(b)['subsonic-response'], dt
        except Exception:
            return r.status, {'status': 'not-an-envelope', 'raw': b[:200]}, dt
    except Exception as e:
        return -1, {'status': 'no answer', 'raw': repr(e)}, 0
    finally:
        c.close()


def expect(name, params, ok, code=None, ep='ping', post=False):
    global cases
    cases += 1
    st, d, _ = call(params, ep, post)
    got = d.get('status')
    err = d.get('error', {})
    print(f'  {name}: {st} {got} {err.get("code", "")} {err.get("message", "")[:100]}')
    if st >= 500 or st == -1: flag(f'{name}: {st} {d}')
    elif got == 'not-an-envelope': flag(f'{name}: not an envelope {d}')
    elif ok and got != 'ok': flag(f'{name}: refused, wanted ok: {err}')
    elif not ok and got == 'ok': flag(f'{name}: ok for a wrong credential')
    elif code is not None and not ok and err.get('code') != code: flag(f'{name}: code {err.get("code")}, wanted {code}: {err.get("message")}')
    return d


def median_ms(params, n):
    return statistics.median(call(params)[2] for _ in range(n)) * 1000


# --- 1. API keys ------------------------------------------------------------------------------------
expect('right apiKey', dict(apiKey=KEY), True)
wrong = ('0' if KEY[0] != '0' else '1') + KEY[1:]
expect('wrong apiKey (one digit off)', dict(apiKey=wrong), False, 44)
expect('apiKey upper case', dict(apiKey=KEY.upper()), False, 44)
expect('empty apiKey', dict(apiKey=''), False)
expect('apiKey of 2048 bytes', dict(apiKey='a' * 2048), False, 44)
expect('apiKey of 2049 bytes', dict(apiKey='a' * 2049), False, 44)
expect('apiKey of 60,000 bytes', dict(apiKey='a' * 60000), False)
expect('right apiKey + u=bob', [('apiKey', KEY), ('u', 'bob')], False, 43)
expect('wrong apiKey + u=bob', [('apiKey', wrong), ('u', 'bob')], False, 43)
expect('wrong apiKey + u=bob&p=bobpw', [('apiKey', wrong), ('u', 'bob'), ('p', 'bobpw')], False, 43)
expect('right apiKey + t/s', [('apiKey', KEY), ('t', 'x' * 32), ('s', 'y')], False, 43)
expect('apiKey twice, same', [('apiKey', KEY), ('apiKey', KEY)], True)
expect('apiKey twice, right then wrong', [('apiKey', KEY), ('apiKey', wrong)], False, 43)
expect('apiKey twice, wrong then right', [('apiKey', wrong), ('apiKey', KEY)], False, 43)
expect('apiKey with a NUL', dict(apiKey=KEY + '\0'), False)
expect('apiKey padded with a space', dict(apiKey=KEY + ' '), False)
for name, params in [('right key', dict(apiKey=KEY)), ('wrong key', dict(apiKey=wrong)), ('short key', dict(apiKey='abc')),
                     ('2048-byte key', dict(apiKey='a' * 2048))]:
    print(f'  time {name}: median {median_ms(params, 40):.2f} ms (40)')
cases += 4

# --- 2. passwords: p= and p=enc: ---------------------------------------------------------------------
hexpw = 'bobpw'.encode().hex()
salt = 'abc123'
tok = hashlib.md5(('bobpw' + salt).encode()).hexdigest()
# the right ones first (bob is locked out by the wrong ones below)
expect('p=enc: right', dict(u='bob', p='enc:' + hexpw), True)
expect('p=enc: upper-case hex', dict(u='bob', p='enc:' + hexpw.upper()), True)
expect('t upper case', dict(u='bob', t=tok.upper(), s=salt), True)
expect('p given twice (same)', [('u', 'bob'), ('p', 'bobpw'), ('p', 'bobpw')], True)
expect('p with t', [('u', 'bob'), ('p', 'bobpw'), ('t', tok), ('s', salt)], False, 43)
expect('u of 10,000 bytes (form POST)', dict(u='b' * 10000, p='x'), False, 40, post=True)
expect('p of 60,000 bytes (form POST)', dict(u='alice', p='x' * 60000), False, 40, post=True)
expect('p of 60,000 bytes (GET: the line limit)', dict(u='alice', p='x' * 60000), False, 0)
expect('p=ENC: prefix (a password "ENC:...")', dict(u='bob', p='ENC:' + hexpw), False, 40)
expect('p=enc: odd length', dict(u='bob', p='enc:' + hexpw[:-1]), False, 40)
expect('p=enc: not hex', dict(u='bob', p='enc:zz' + hexpw[2:]), False, 40)
expect('p=enc: empty', dict(u='bob', p='enc:'), False, 40)
expect('t of 33 chars', dict(u='bob', t=tok + '0', s=salt), False, 40)
print('  (the time of a wrong password for a user who exists and one who does not: timing21.py)')

# --- 3. the lockout -------------------------------------------------------------------------------------
for k in range(5):
    expect(f'carol wrong {k + 1}', dict(u='carol', p='nope%d' % k), False, 40)
d = expect('carol right after 5 wrong', dict(u='carol', p='carolpw'), False, 40)
if 'too many' not in d.get('error', {}).get('message', ''): flag(f'carol after 5 wrong: not locked: {d}')
d = expect('CAROL right after 5 wrong', dict(u='CAROL', p='carolpw'), False, 40)
if 'too many' not in d.get('error', {}).get('message', ''): flag(f'CAROL after carol\'s 5 wrong: not locked: {d}')
d = expect('carol by token after 5 wrong', dict(u='carol', t=hashlib.md5(('carolpw' + salt).encode()).hexdigest(), s=salt), False, 40)
d = expect('carol by p=enc: after 5 wrong', dict(u='carol', p='enc:' + 'carolpw'.encode().hex()), False, 40)
for k in range(5):
    expect(f'bob wrong {k + 1}', dict(u='bob', p='nope%d' % k), False, 40)
expect('bob locked: his apiKey still works', dict(apiKey=KEY), True)
expect('bob locked: wrong apiKey', dict(apiKey=wrong), False, 44)
expect('bob locked: wrong apiKey with u=bob', [('apiKey', wrong), ('u', 'bob')], False, 43)
expect('alice not locked by carol\'s failures', dict(u='alice', p='alicepw'), True)
# 50 wrong API keys: not limited (the docs), and the right key still works after
for k in range(50): call(dict(apiKey='%064x' % k))
cases += 50
expect('right apiKey after 50 wrong keys', dict(apiKey=KEY), True)

# --- 4. across a restart -------------------------------------------------------------------------------
if RESTART:
    subprocess.run(RESTART, shell=True, check=True)
    d = expect('carol right after a restart (locked before it)', dict(u='carol', p='carolpw'), True)
    print('  (the lock is kept in memory: a restart forgets it; said in the report, not flagged)')

print(f'\ncases {cases}, flags {len(flags)}')
for f in flags: print('  ', f)

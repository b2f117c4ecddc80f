#!/usr/bin/env python3
"""Hostile pass 19 (server side's model sharing, service/library_models.cpp): a Library shares the
model another Library of the process holds when its files are "the same". Here the files are
rewritten in place (same inode, same size) and their modification time put back (touch -r), and
the index built again with them; a Library of the new index in the same process must embed with the
new weights: its scores must equal those of a fresh process (no model loaded before).
Cases: the weights (every float changed by about 12%: same size, another model), a tokenizer file
(merges.txt's first merge; the tokenizer folder's times do not change), each with and without
the time put back. Flags: a score of the process that held the old model differing from a fresh
process's. Usage: models19.py CLAPSEARCH PYTHON_DIR MODEL_DIR MUSIC_DIR WORK_DIR"""
import json, os, shutil, struct, subprocess, sys

CLI, PYDIR, MODEL, MUSIC, WORK = sys.argv[1:6]
sys.path.insert(0, PYDIR)
import clapsearch  # noqa: E402

os.makedirs(WORK, exist_ok=True)
model = os.path.join(WORK, 'model')
shutil.rmtree(model, ignore_errors=True)
os.makedirs(model)
for f in ['config.json', 'model.safetensors', 'preprocessor_config.json', 'vocab.json', 'merges.txt',
          'special_tokens_map.json', 'tokenizer_config.json']:
    shutil.copyfile(os.path.join(MODEL, f), os.path.join(model, f))


def index(db):
    for ext in ['', '-wal', '-shm', '.key', '.windows.faiss']:
        if os.path.exists(db + ext):
            os.remove(db + ext)
    subprocess.run([CLI, 'index', MUSIC, '--db', db, '-m', model, '-q'], check=True)


def scores(lib):
    return [round(r['score'], 7) for r in lib.search('a bright tone', k=5)]


def fresh_scores(db):
    code = 'import sys,json; sys.path.insert(0,%r); import clapsearch; l=clapsearch.Library(%r); ' \
           'print(json.dumps([round(r["score"],7) for r in l.search("a bright tone", k=5)]))' % (PYDIR, db)
    return json.loads(subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True).stdout)


def rewrite(path, change, keep_time):
    st = os.stat(path)
    with open(path, 'r+b') as f:
        b = bytearray(f.read())
        change(b)
        f.seek(0)
        f.write(b)
    if keep_time:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = os.stat(path)
    assert after.st_ino == st.st_ino and after.st_size == st.st_size


def flip_signs(b):
    # Every float32 (from the data's start, 4-aligned) changed by about 12% (mantissa bit 20, in
    # its third byte): the same size, another model, no NaN or infinity (a sign flip of every
    # weight made a degenerate model whose every score was equal).
    n = struct.unpack('<Q', bytes(b[:8]))[0]
    for i in range(8 + n + 2, len(b), 4):
        b[i] ^= 0x10


def merges_version(b):
    # The first merge "\u0120 t" (after the "#version: 0.2" line) becomes "\u0120 q" and back: the
    # same size, another tokenization of " tone".
    i = b.index(b'\n') + 1 + len('\u0120 '.encode())
    b[i] = ord('q') if b[i] == ord('t') else ord('t')


cases = flags = 0
held = []  # every Library stays open, as a server's would while a copy is opened
index(os.path.join(WORK, 'db0.db'))
held.append(clapsearch.Library(os.path.join(WORK, 'db0.db')))
scores(held[-1])
n = 0
for what, path, change in [('weights', 'model.safetensors', flip_signs), ('tokenizer file', 'merges.txt', merges_version)]:
    for keep_time in (True, False):
        n += 1
        rewrite(os.path.join(model, path), change, keep_time)
        db = os.path.join(WORK, 'db%d.db' % n)
        index(db)
        lib = clapsearch.Library(db)
        here, fresh = scores(lib), fresh_scores(db)
        held.append(lib)
        cases += 1
        if os.environ.get('MODELS19_SHOW'):
            print(what, keep_time, here, fresh)
        if here != fresh:
            flags += 1
            print('FLAG %s rewritten in place%s: this process %s, a fresh process %s' %
                  (what, ', time put back' if keep_time else '', here, fresh))
print('cases %d flags %d' % (cases, flags))

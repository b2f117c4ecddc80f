"""Hostile pass 13: concrete claims of docs/python.md checked literally (one line each: the claim,
what happened). PYTHONPATH=build/python python3 docs_claims.py LIB MODEL MUSIC"""
import errno, os, sys, tempfile
import numpy as np
import clapsearch

LIB, MODEL, MUSIC = sys.argv[1:4]


def claim(text, f):
    try:
        got = f()
    except BaseException as e:  # noqa: BLE001
        got = f'{type(e).__name__}: {str(e)[:160]}'
    print(f'- {text}\n    -> {got}', flush=True)


def raises(f, cls):
    try:
        f()
    except cls as e:
        return f'raised {type(e).__name__}: {str(e)[:120]}'
    except Exception as e:  # noqa: BLE001
        return f'WRONG CLASS {type(e).__name__}: {str(e)[:120]}'
    return 'DID NOT RAISE'


m = clapsearch.Model(MODEL)
lib = clapsearch.Library(LIB)
claim('a Library: "only an index that does not exist yet waits for the first call" (construction does not raise)',
      lambda: (lambda l: 'constructed; first call: ' + raises(lambda: l.search('x'), clapsearch.Error))(
          clapsearch.Library(os.path.join(tempfile.mkdtemp(), 'new.db'))))
claim('an exclude_rule that does not parse raises at construction (InvalidInputError)',
      lambda: raises(lambda: clapsearch.Library(LIB, exclude_rule='genre ==='), clapsearch.InvalidInputError))
claim('Library(db, exclude_rule="") applies none: as many tracks as include_excluded=True',
      lambda: (len(clapsearch.Library(LIB, exclude_rule='').search('x', k=0)), len(lib.search('x', k=0, include_excluded=True))))
claim('clapsearch.MAX_THREADS is 1024; threads=1025 raises InvalidInputError',
      lambda: (clapsearch.MAX_THREADS, raises(lambda: clapsearch.Model(MODEL, threads=1025), clapsearch.InvalidInputError)))
claim('sr=True and sr="48000" raise InvalidInputError',
      lambda: (raises(lambda: m.embed_audio(np.zeros(48000, np.float32), sr=True), clapsearch.InvalidInputError),
               raises(lambda: m.embed_audio(np.zeros(48000, np.float32), sr="48000"), clapsearch.InvalidInputError)))
claim('an empty path raises InvalidInputError naming the argument',
      lambda: raises(lambda: lib.similar(""), clapsearch.InvalidInputError))


def _missing():
    try:
        m.embed_audio_files(['/nonexistent/x.flac'])
    except clapsearch.NotFoundError as e:
        return e
    raise AssertionError('no NotFoundError')


claim('NotFoundError is a FileNotFoundError with errno ENOENT and filename set (a missing file)',
      lambda: (lambda e: (isinstance(e, FileNotFoundError), e.errno == errno.ENOENT, e.filename))(_missing()))
claim('InvalidInputError is also a ValueError', lambda: issubclass(clapsearch.InvalidInputError, ValueError))
claim('Library.index(db=...) raises InvalidInputError', lambda: raises(lambda: lib.index([MUSIC], db='/tmp/x.db'), clapsearch.InvalidInputError))
calls = []
claim('index progress callable gets (files_done, files_total, audio_seconds, elapsed_seconds, eta_seconds)',
      lambda: (clapsearch.index([MUSIC], db=os.path.join(tempfile.mkdtemp(), 'p.db'), model=MODEL,
                                progress=lambda *a: calls.append(len(a))) and sorted(set(calls))))
claim('a lone surrogate in a text raises InvalidInputError', lambda: raises(lambda: lib.search('a\ud800'), clapsearch.InvalidInputError))
claim('search_vectors returns (D, I) with -1 / -inf where fewer than k tracks exist (k = 1000 on 8 tracks)',
      lambda: (lambda D, I: (D.shape, int((I == -1).sum()), bool(np.isneginf(D[I == -1]).all())))(*lib.search_vectors(m.embed_text(['a tone']), 1000)))

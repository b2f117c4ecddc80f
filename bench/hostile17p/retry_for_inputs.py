#!/usr/bin/python3
"""Hostile pass 17: Library(retry_for=) as a caller may give it, and a Library pickled with it.
Each value prints what Library() said (or the retry_for it kept after a pickle round trip).

    PYTHONPATH=BUILD/python retry_for_inputs.py LIB_DB MODEL_DIR"""
import decimal, fractions, pickle, sys
import numpy as np
import clapsearch

db, model = sys.argv[1], sys.argv[2]
values = [0, 0.0, -0.0, 1e-320, 1e-6, 300, 86400, 86400.0000001, 86401, -1, -1e-300, float('nan'), float('inf'),
          -float('inf'), True, False, None, '5', b'5', '', [5], 10**400, np.float32(2.5), np.int64(7), np.float64('nan'),
          np.array(3.0), np.array([3.0]), decimal.Decimal('2.5'), fractions.Fraction(1, 3), complex(1, 0)]
for v in values:
    try:
        lib = clapsearch.Library(db, model, retry_for=v)
        back = pickle.loads(pickle.dumps(lib))
        print(f'{v!r:>28}: ok, kept {lib._retry_for!r}, after pickle {back._retry_for!r}')
    except Exception as e:
        print(f'{v!r:>28}: {type(e).__name__}: {e}')

#!/usr/bin/python3
"""Hostile pass 22 (Python): the laion_clap drop-in with arguments LAION's README does not show:
enable_fusion as a string, devices ('mps:0', -1, ''), tower names, precision, threads; load_ckpt
of a number, '', bytes, a pathlib path, model_id '1' / 1.0 / True, a fused checkpoint into an
unfused module, config.json, /dev/null, '/', a failing second load; texts as None, a set, a
dict, a generator, a numpy array, 10^6 spaces, a lone surrogate, use_tensor None/'False'/0;
audio as lists of lists, float16, longdouble, int32, uint16, a broadcast float64 of 2^37
samples, 0-d, tuples, bools, NaN; file lists of bytes, pathlib, a folder, a number, '', None,
/dev/zero, '~', a FIFO; eval(False), train(), calling the module.

    laion_odd_args.py PYTHON_MODULE_DIR UNFUSED_MODEL_DIR FUSED_MODEL_DIR AUDIO_FILE SCRATCH_DIR
"""
import sys, os, shutil, json, logging
sys.path.insert(0, sys.argv[1])
import numpy as np
import clapsearch
from clapsearch import laion_clap
M, F, AUDIO, SCRATCH = sys.argv[2:6]
def run(name, f):
    try:
        r = f()
        print(f"OK    {name}: {repr(r)[:160]}")
    except BaseException as e:
        print(f"RAISE {name}: {type(e).__name__}: {str(e)[:220]}")
print(os.listdir(M))
def mk(**kw):
    m = laion_clap.CLAP_Module(**kw); return m
run("enable_fusion='False' (str) then unfused", lambda: mk(enable_fusion='False').load_ckpt(M))
run("enable_fusion=None", lambda: mk(enable_fusion=None).load_ckpt(M))
run("device=torch-like 'cuda'", lambda: mk(device='cuda'))
run("device='mps:0'", lambda: mk(device='mps:0'))
run("device=-1", lambda: mk(device=-1))
run("device=''", lambda: mk(device=''))
run("amodel='HTSAT-base'", lambda: mk(amodel='HTSAT-base'))
run("amodel=None", lambda: mk(amodel=None))
run("tmodel='bert'", lambda: mk(tmodel='bert'))
run("precision='fp16'", lambda: mk(precision='fp16'))
run("threads=0", lambda: mk(threads=0))
run("threads=2.0", lambda: mk(threads=2.0))
m = mk()
run("load_ckpt(123)", lambda: m.load_ckpt(123))
run("load_ckpt('')", lambda: m.load_ckpt(''))
run("load_ckpt(b'path')", lambda: m.load_ckpt(os.fsencode(M)))
run("load_ckpt(pathlib)", lambda: m.load_ckpt(__import__('pathlib').Path(M)))
run("load_ckpt(M, model_id=5)", lambda: m.load_ckpt(M, model_id=5))
run("load_ckpt(None, model_id='1')", lambda: mk().load_ckpt(None, model_id='1'))
run("load_ckpt(None, model_id=1.0)", lambda: mk().load_ckpt(None, model_id=1.0))
run("load_ckpt(None, model_id=True)", lambda: mk().load_ckpt(None, model_id=True))
run("load_ckpt(fused into unfused module)", lambda: mk().load_ckpt(F))
run("load_ckpt(dir of a file: config.json path)", lambda: mk().load_ckpt(os.path.join(M, 'config.json')))
run("load_ckpt(/dev/null)", lambda: mk().load_ckpt('/dev/null'))
run("load_ckpt(/)", lambda: mk().load_ckpt('/'))
run("load_ckpt(verbose='no')", lambda: mk().load_ckpt(M, verbose='no'))
# the model loaded; then a failing second load keeps the first?
m = mk(); m.load_ckpt(M)
run("second load fails", lambda: m.load_ckpt('/nonexistent.pt'))
run("still loaded", lambda: m.get_text_embedding(["a", "b"]).shape)
run("text x=None", lambda: m.get_text_embedding(None))
run("text x=set", lambda: m.get_text_embedding({"a", "b"}).shape)
run("text x=dict", lambda: m.get_text_embedding({"a": 1}).shape)
run("text x=generator", lambda: m.get_text_embedding(t for t in ["a", "b"]).shape)
run("text x=np.array(['a'])", lambda: m.get_text_embedding(np.array(['a', 'b'])).shape)
run("text x=['']", lambda: m.get_text_embedding(['']).shape)
run("text x=[' '*10**6]", lambda: m.get_text_embedding([' ' * 10**6]).shape)
run("text x=['\\ud800']", lambda: m.get_text_embedding(['\ud800']).shape)
run("text use_tensor=None", lambda: m.get_text_embedding(['a'], use_tensor=None).shape)
run("text use_tensor='False'", lambda: m.get_text_embedding(['a'], use_tensor='False').shape)
run("text use_tensor=0", lambda: m.get_text_embedding(['a'], use_tensor=0).shape)
run("data list of lists", lambda: m.get_audio_embedding_from_data([[0.1]*4800, [0.2]*9600]).shape)
run("data nested list (N,T) as one", lambda: m.get_audio_embedding_from_data(np.array([[0.1]*4800, [0.2]*4800])).shape)
run("data x=[]", lambda: m.get_audio_embedding_from_data([]))
run("data x=[np.zeros(0)]", lambda: m.get_audio_embedding_from_data([np.zeros(0)]))
run("data x=np.zeros((2,0))", lambda: m.get_audio_embedding_from_data(np.zeros((2, 0))))
run("data x=float16", lambda: m.get_audio_embedding_from_data(np.zeros(4800, np.float16) + 0.1).shape)
run("data x=longdouble", lambda: m.get_audio_embedding_from_data(np.zeros(4800, np.longdouble) + 0.1).shape)
run("data x=int32", lambda: m.get_audio_embedding_from_data(np.zeros(4800, np.int32)))
run("data x=uint16", lambda: m.get_audio_embedding_from_data(np.zeros(4800, np.uint16)))
run("data x=broadcast f64 (2, 2**36)", lambda: m.get_audio_embedding_from_data(np.broadcast_to(0.1, (2, 2**36))))
run("data x=0-d", lambda: m.get_audio_embedding_from_data(np.float64(0.1)))
run("data x=tuple of arrays", lambda: m.get_audio_embedding_from_data((np.zeros(4800), np.zeros(100))).shape)
run("data x=list mixing tensor-like", lambda: m.get_audio_embedding_from_data([np.zeros(4800), [0.0]*10]).shape)
run("data x=list containing bool", lambda: m.get_audio_embedding_from_data([[True, False]]))
run("data x=list with a nan", lambda: m.get_audio_embedding_from_data([[0.1, float('nan')]]))
run("data x=list of 3-D", lambda: m.get_audio_embedding_from_data(np.zeros((1, 1, 100))))
run("filelist x=b'path'", lambda: m.get_audio_embedding_from_filelist(os.fsencode(AUDIO)).shape)
run("filelist x=pathlib", lambda: m.get_audio_embedding_from_filelist(__import__('pathlib').Path(AUDIO)).shape)
run("filelist x=[dir]", lambda: m.get_audio_embedding_from_filelist([os.path.dirname(AUDIO)]))
run("filelist x=[123]", lambda: m.get_audio_embedding_from_filelist([123]))
run("filelist x=['']", lambda: m.get_audio_embedding_from_filelist(['']))
run("filelist x=None", lambda: m.get_audio_embedding_from_filelist(None))
run("filelist x=['/dev/zero']", lambda: m.get_audio_embedding_from_filelist(['/dev/zero']))
run("filelist x=['~/x.flac']", lambda: m.get_audio_embedding_from_filelist(['~/x.flac']))
run("filelist x=[fifo]", lambda: (os.path.exists(os.path.join(SCRATCH, 'fifo')) or os.mkfifo(os.path.join(SCRATCH, 'fifo')), m.get_audio_embedding_from_filelist([os.path.join(SCRATCH, 'fifo')])))
run("eval(False)", lambda: m.eval(False))
run("train()", lambda: m.train())
run("m.model.name", lambda: m.model.name)
run("call module()", lambda: m(np.zeros(10)))

#!/usr/bin/env python3
"""Hostile pass 12: audio files that lie about their length. Usage: mkliars.py SRC.flac OUTDIR
Matroska copies whose Segment Info Duration claims 10^6..9.2*10^12 s, inf, -10^6 s; Ogg (Vorbis,
Opus) copies whose last page's granule position claims 10^9..2^62 samples (CRC fixed); a WAV whose
RIFF and data sizes claim 4 GiB; a FLAC whose STREAMINFO claims 2^36-1 samples; each 12 s of audio."""
import os, struct, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile9'))
src, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
def ff(dst, *a): subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', src, *a, dst], check=True)
ff(f'{out}/base.mka', '-c', 'copy')
d = open(f'{out}/base.mka', 'rb').read()
i = d.find(b'\x44\x89'); sz = d[i + 2]
for name, val in [('dur1e6s', 1e9), ('dur1e9s', 1e12), ('dur1e12s', 1e15), ('durmax', 9.2e15), ('durinf', float('inf')), ('durneg', -1e9), ('durnan', float('nan'))]:
    e = bytearray(d)
    e[i + 3:i + 3 + (8 if sz == 0x88 else 4)] = struct.pack('>d' if sz == 0x88 else '>f', val)
    open(f'{out}/{name}.mka', 'wb').write(e)
# Ogg: the last page's granule position
_argv, sys.argv = sys.argv, sys.argv[:1]  # oggcrc fixes the files named on its command line when imported
from oggcrc import fix
sys.argv = _argv
for codec, ext in (('libvorbis', 'ogg'), ('libopus', 'opus')):
    ff(f'{out}/base_{codec}.{ext}', '-c:a', codec)
    d = open(f'{out}/base_{codec}.{ext}', 'rb').read()
    last = d.rfind(b'OggS')
    for name, g in (('g1e9', 10**9), ('g1e12', 10**12), ('g2e62', 2**62), ('gneg', (1 << 64) - 5)):
        e = bytearray(d); e[last + 6:last + 14] = struct.pack('<Q', g)
        open(f'{out}/{codec}_{name}.{ext}', 'wb').write(fix(bytes(e)))
# WAV: sizes claiming 4 GiB
ff(f'{out}/base.wav')
d = bytearray(open(f'{out}/base.wav', 'rb').read())
j = d.find(b'data'); e = bytearray(d); e[4:8] = b'\xff\xff\xff\xff'; e[j + 4:j + 8] = b'\xff\xff\xff\xff'
open(f'{out}/wav_4g.wav', 'wb').write(e)
# FLAC: STREAMINFO total samples 2^36-1 (bytes 18..21 of the block hold rate/channels/bps/total)
d = bytearray(open(src, 'rb').read())
si = 8  # 'fLaC' + block header
b = int.from_bytes(d[si + 10:si + 18], 'big')
b = (b & ~((1 << 36) - 1)) | ((1 << 36) - 1)
e = bytearray(d); e[si + 10:si + 18] = b.to_bytes(8, 'big')
open(f'{out}/flac_total_max.flac', 'wb').write(e)

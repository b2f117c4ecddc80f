import random, os, struct
src='codec/src'; out='codec/bad'
for f in sorted(os.listdir(src)):
    d=open(os.path.join(src,f),'rb').read(); base,ext=os.path.splitext(f)
    def w(tag,b): open(os.path.join(out,f'{base}_{tag}{ext}'),'wb').write(b)
    r=random.Random(hash(f)%1000)
    b=bytearray(d)
    for _ in range(50): b[r.randrange(4096,len(b))]=r.randrange(256)
    w('flip50',bytes(b))
    b=bytearray(d)
    for _ in range(2000): b[r.randrange(4096,len(b))]=r.randrange(256)
    w('flip2000',bytes(b))
    m=len(d)//2; w('zero4k', d[:m]+b'\0'*4096+d[m+4096:])
    for pct in (1,10,50,99): w(f'trunc{pct}', d[:len(d)*pct//100])
    t=len(d)//3; w('dupmid', d[:2*t]+d[t:2*t]+d[2*t:])
    w('swap', d[:t]+d[2*t:]+d[t:2*t])
    if ext in ('.opus','.ogg'):
        # granule positions of pages
        pages=[i for i in range(len(d)) if d[i:i+4]==b'OggS']
        for tag,val in (('granmax',0x7fffffffffffffff),('granneg',-2),('granzero',0)):
            b=bytearray(d)
            for p in pages[3:]: b[p+6:p+14]=struct.pack('<q',val)
            w(tag,bytes(b))
        b=bytearray(d); b[pages[-1]+6:pages[-1]+14]=struct.pack('<q',0x7ffffffffffffff0); w('lastgranhuge',bytes(b))
        b=bytearray(d); b[pages[-1]+6:pages[-1]+14]=struct.pack('<q',1); w('lastgranone',bytes(b))
        b=bytearray(d); 
        for p in pages: b[p+14:p+18]=b'\1\2\3\4'
        w('serial', bytes(b))
        i=d.find(b'OpusHead')
        if i>=0:
            b=bytearray(d); b[i+10:i+12]=b'\xff\xff'; w('preskipmax',bytes(b))
            b=bytearray(d); b[i+9]=255; w('ch255',bytes(b))
            b=bytearray(d); b[i+9]=0; w('ch0',bytes(b))
            b=bytearray(d); b[i+12:i+16]=b'\0\0\0\0'; w('rate0',bytes(b))
            b=bytearray(d); b[i+16:i+18]=b'\xff\x7f'; w('gainmax',bytes(b))
            b=bytearray(d); b[i+8]=99; w('ver99',bytes(b))
    if ext=='.m4a':
        for atom in (b'mdhd',b'stts',b'stsz',b'stsc',b'stco',b'esds'):
            i=d.find(atom)
            if i<0: continue
            b=bytearray(d); b[i+4+12:i+4+16]=b'\xff\xff\xff\xff'; w('%s_ff'%atom.decode(),bytes(b))
            b=bytearray(d); b[i+4+12:i+4+16]=b'\0\0\0\0'; w('%s_00'%atom.decode(),bytes(b))
            b=bytearray(d); b[i-4:i]=b'\xff\xff\xff\xff'; w('%s_size'%atom.decode(),bytes(b))

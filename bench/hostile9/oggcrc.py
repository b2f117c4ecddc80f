import sys, struct
T=[]
for i in range(256):
    r=i<<24
    for _ in range(8): r=((r<<1)^0x04c11db7)&0xffffffff if r&0x80000000 else (r<<1)&0xffffffff
    T.append(r)
def crc(b):
    c=0
    for x in b: c=((c<<8)&0xffffffff)^T[((c>>24)^x)&0xff]
    return c
def fix(d):
    d=bytearray(d); i=0
    while True:
        i=d.find(b'OggS',i)
        if i<0 or i+27>len(d): break
        ns=d[i+26]
        if i+27+ns>len(d): break
        L=27+ns+sum(d[i+27:i+27+ns])
        if i+L>len(d): break
        d[i+22:i+26]=b'\0\0\0\0'; d[i+22:i+26]=struct.pack('<I',crc(bytes(d[i:i+L]))); i+=L
    return bytes(d)
for f in sys.argv[1:]:
    d=open(f,'rb').read(); open(f,'wb').write(fix(d))

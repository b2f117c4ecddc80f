# Hostile history imports: every supported format with hostile content.
import sys, os, json, zipfile, io, shutil, struct, zlib
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'hostile10')); from h import *
os.chdir(os.path.join(os.environ.get('W', '/tmp/h11c'), 'hx'))
def lb(at=1700000000, ar='Alpha', ti='Song A', al='Album X', extra=None, info=None):
    d = {'listened_at': at, 'track_metadata': {'artist_name': ar, 'track_name': ti, 'release_name': al}}
    if info is not None: d['track_metadata']['additional_info'] = info
    if extra: d.update(extra)
    return json.dumps(d)
F = {}
F['lb_ok.jsonl'] = '\n'.join(lb(1700000000 + i * 600) for i in range(5)) + '\n'
F['lb_deep.jsonl'] = '[' * 200000 + ']' * 200000 + '\n'
F['lb_deep_obj.jsonl'] = '{"a":' * 100000 + '1' + '}' * 100000 + '\n'
F['lb_deep_meta.jsonl'] = json.dumps({'listened_at': 1700000000, 'track_metadata': {'artist_name': 'Alpha', 'track_name': 'Song A'}})[:-2] + ', "x":' + '[' * 100000 + ']' * 100000 + '}}\n'
F['lb_nan.jsonl'] = '{"listened_at": NaN, "track_metadata": {"artist_name": "Alpha", "track_name": "Song A"}}\n'
F['lb_inf.jsonl'] = '{"listened_at": 1e400, "track_metadata": {"artist_name": "Alpha", "track_name": "Song A"}}\n'
F['lb_neg.jsonl'] = lb(-5) + '\n'
F['lb_float.jsonl'] = lb(1700000000.999) + '\n'
F['lb_ms.jsonl'] = lb(1700000000123) + '\n'
F['lb_str.jsonl'] = lb('2023-11-14T22:13:20Z') + '\n'
F['lb_str_tz.jsonl'] = lb('2023-11-14T22:13:20+99:99') + '\n'
F['lb_bigint.jsonl'] = lb(99999999999999999999999999) + '\n'
F['lb_bool.jsonl'] = lb(True) + '\n'
F['lb_dur.jsonl'] = lb(info={'duration_ms': 1e308, 'duration': '-inf', 'recording_mbid': 5}) + '\n'
F['lb_mbid_num.jsonl'] = lb(info={'recording_mbid': 12}) + '\n'
F['lb_ctrl.jsonl'] = lb(ar='Al\x1b[31mpha\n', ti='So\x00ng A') + '\n'
F['lb_badutf8.jsonl'] = (lb()[:-3] + '"}}').encode()[:0].decode() + '{"listened_at": 1700000000, "track_metadata": {"artist_name": "Alpha\xff", "track_name": "Song A"}}\n'
F['lb_dup.jsonl'] = (lb() + '\n') * 3
F['lb_crlf.jsonl'] = (lb() + '\r\n') * 2
F['lb_bom.jsonl'] = '\ufeff' + lb() + '\n'
F['lb_blank_lines.jsonl'] = '\n\n' + lb() + '\n\n\n'
F['lb_array.jsonl'] = '[' + ','.join(lb(1700000000 + i) for i in range(3)) + ']'
F['lb_payload.json'] = json.dumps({'payload': {'listens': [json.loads(lb(1700000000 + i)) for i in range(3)]}})
F['lb_huge_str.jsonl'] = lb(ar='A' * 50_000_000) + '\n'
F['lb_many_keys.jsonl'] = json.dumps({**{f'k{i}': i for i in range(200000)}, **json.loads(lb())}) + '\n'
F['lb_unicode_escape.jsonl'] = '{"listened_at": 1700000000, "track_metadata": {"artist_name": "\\ud800", "track_name": "Song A"}}\n'
F['lb_nul_escape.jsonl'] = '{"listened_at": 1700000000, "track_metadata": {"artist_name": "Alpha\\u0000x", "track_name": "Song A"}}\n'
F['lb_only_ws.jsonl'] = ' \n\t\n'
F['lb_trunc.jsonl'] = lb()[:40]
F['lb_last_trunc.jsonl'] = lb() + '\n' + lb(1700000600)[:30]
# CSV
F['fm_ok.csv'] = 'Alpha,Album X,Song A,14 Nov 2023 22:13\nBeta,Album X,Song B,14 Nov 2023 22:20\n'
F['fm_hdr.csv'] = 'uts,utc_time,artist,artist_mbid,album,album_mbid,track,track_mbid\n1700000000,"14 Nov 2023, 22:13",Alpha,,Album X,,Song A,\n'
F['fm_quote_nl.csv'] = 'Alpha,"Album\nX",Song A,14 Nov 2023 22:13\n'
F['fm_unterminated.csv'] = 'Alpha,"Album X,Song A,14 Nov 2023 22:13\n' + 'x,y,z,1\n' * 1000
F['fm_nul.csv'] = 'Alpha,Album X,Song A\x00,14 Nov 2023 22:13\n'
F['fm_long_line.csv'] = 'Alpha,Album X,' + 'S' * 100_000_000 + ',14 Nov 2023 22:13\n'
F['fm_many_cols.csv'] = 'Alpha,Album X,Song A,14 Nov 2023 22:13' + ',x' * 1_000_000 + '\n'
F['fm_many_rows_short.csv'] = '\n' * 10_000_000
F['fm_commas.csv'] = ',' * 10_000_000 + '\n'
# One scrobble with a hostile time each.
for name, when in [('feb30', '30 Feb 2023 22:13'), ('y9999', '31 Dec 9999 23:59'), ('hour25', '14 Nov 2023 25:61'),
                   ('1969', '1969-12-31 23:59'), ('tz', '1970-01-01T00:00:00+01:00'), ('ms', '1700000000000'),
                   ('dot', '.'), ('dots', '1.2.3'), ('exp', '99999999999.9')]:
    F[f'fm_{name}.csv'] = f'Alpha,Album X,Song A,{when}\n'
F['fm_semicolon.csv'] = 'Alpha;Album X;Song A;14 Nov 2023 22:13\n'
F['fm_tabs.tsv'] = 'Alpha\tAlbum X\tSong A\t14 Nov 2023 22:13\n'
F['fm_utf16.csv'] = 'Alpha,Album X,Song A,14 Nov 2023 22:13\n'.encode('utf-16')
F['fm_hdr_dupcol.csv'] = 'artist,artist,track,track,uts\nAlpha,Beta,Song A,Song B,1700000000\n'
F['fm_hdr_only.csv'] = 'artist,album,track,date\n'
# Last.fm JSON
rt = lambda tracks: json.dumps({'recenttracks': {'track': tracks, '@attr': {'page': '1'}}})
tr = lambda uts='1700000000', ar='Alpha', ti='Song A', al='Album X': {'artist': {'#text': ar}, 'name': ti, 'album': {'#text': al}, 'date': {'uts': uts}}
F['fmj_ok.json'] = rt([tr(), tr('1700000600', 'Beta', 'Song B')])
F['fmj_nowplaying.json'] = rt([{**tr(), 'date': None, '@attr': {'nowplaying': 'true'}}, tr()])
F['fmj_pages.json'] = json.dumps([json.loads(rt([tr()])), json.loads(rt([tr('1700000600')]))])
F['fmj_track_obj.json'] = json.dumps({'recenttracks': {'track': tr()}})
F['fmj_artist_str.json'] = rt([{**tr(), 'artist': 'Alpha'}])
F['fmj_artist_num.json'] = rt([{**tr(), 'artist': 5, 'name': ['x']}])
F['fmj_uts_obj.json'] = rt([{**tr(), 'date': {'uts': {'x': 1}}}])
F['fmj_scrobbles.json'] = json.dumps([{'artist': 'Alpha', 'track': 'Song A', 'album': 'Album X', 'timestamp': 1700000000}])
F['fmj_empty_arr.json'] = '[]'
F['fmj_null.json'] = 'null'
F['fmj_num.json'] = '5'
F['fmj_str.json'] = '"hello"'
F['fmj_nested_pages.json'] = json.dumps([[[json.loads(rt([tr()]))]]])
# beets
F['beets_ok.json'] = ''
for name, text in F.items():
    with open(name, 'wb') as f: f.write(text if isinstance(text, bytes) else text.encode('utf-8', 'surrogatepass'))
open('lb_badutf8_raw.jsonl', 'wb').write(b'{"listened_at": 1700000000, "track_metadata": {"artist_name": "Alpha\xff\xfe", "track_name": "Song A"}}\n')
# zips
def z(name, members, comp=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(name, 'w', comp) as zf:
        for n, d in members: zf.writestr(n, d)
z('lbz_ok.zip', [('listens/2023/11.jsonl', F['lb_ok.jsonl']), ('user.json', '{"user_name":"bob"}')])
z('lbz_bomb.zip', [('listens/2023/11.jsonl', b'\n' * (3 << 30) if False else b'')])
# a real deflate bomb: 3 GiB of newlines streamed into the member
with zipfile.ZipFile('lbz_bomb.zip', 'w', zipfile.ZIP_DEFLATED) as zf:
    with zf.open('listens/2023/11.jsonl', 'w', force_zip64=True) as m:
        chunk = b' ' * (64 << 20)
        for _ in range(48): m.write(chunk)
z('lbz_many.zip', [(f'listens/2023/{i}.jsonl', '') for i in range(20000)])
z('lbz_trav.zip', [('../../etc/listens.jsonl', F['lb_ok.jsonl']), ('/abs/listens/2023/1.jsonl', F['lb_ok.jsonl'])])
z('lbz_nested.zip', [('listens/2023/11.zip', open('lbz_ok.zip', 'rb').read())])
z('lbz_nolistens.zip', [('readme.txt', 'hi')])
z('lbz_bad_member.zip', [('listens/2023/11.jsonl', F['lb_deep.jsonl'])])
z('lbz_stored.zip', [('listens/2023/11.jsonl', F['lb_ok.jsonl'])], zipfile.ZIP_STORED)
z('lbz_bzip2.zip', [('listens/2023/11.jsonl', F['lb_ok.jsonl'])], zipfile.ZIP_BZIP2)
z('lbz_lzma.zip', [('listens/2023/11.jsonl', F['lb_ok.jsonl'])], zipfile.ZIP_LZMA)
d = open('lbz_ok.zip', 'rb').read()
open('lbz_trunc.zip', 'wb').write(d[:len(d) // 2])
open('lbz_no_cd.zip', 'wb').write(d[:d.rfind(b'PK\x01\x02')])
b = bytearray(d); i = b.find(b'PK\x03\x04'); b[i + 30 + 25] ^= 0xFF
open('lbz_crc.zip', 'wb').write(bytes(b))
b = bytearray(d); i = b.find(b'PK\x01\x02'); struct.pack_into('<I', b, i + 24, 0xFFFFFFF0)  # uncompressed size lie
open('lbz_size_lie.zip', 'wb').write(bytes(b))
b = bytearray(d); i = b.find(b'PK\x05\x06'); struct.pack_into('<H', b, i + 10, 65535)  # entry count lie
open('lbz_count_lie.zip', 'wb').write(bytes(b))
b = bytearray(d); i = b.find(b'PK\x01\x02'); struct.pack_into('<I', b, i + 42, 0x7FFFFFFF)  # local header offset lie
open('lbz_offset_lie.zip', 'wb').write(bytes(b))
b = bytearray(d); i = b.find(b'PK\x01\x02'); struct.pack_into('<H', b, i + 28, 65535)  # name length lie
open('lbz_namelen_lie.zip', 'wb').write(bytes(b))
b = bytearray(d); i = b.find(b'PK\x01\x02'); struct.pack_into('<H', b, i + 8, 1)  # encrypted flag
open('lbz_encrypted.zip', 'wb').write(bytes(b))
b = bytearray(d); i = b.find(b'PK\x05\x06'); struct.pack_into('<I', b, i + 16, 0)  # cd offset 0
open('lbz_cdoff0.zip', 'wb').write(bytes(b))
open('lbz_empty.zip', 'wb').write(b'PK\x05\x06' + b'\0' * 18)
open('lbz_comment_huge.zip', 'wb').write(d[:-2] + struct.pack('<H', 65535) + b'x' * 65535)
os.system('ln -sf /dev/zero dev_zero.jsonl; rm -f fifo.jsonl; mkfifo fifo.jsonl; truncate -s 3G sparse.jsonl; truncate -s 1G sparse1g.csv')
print('made', len(os.listdir('.')))

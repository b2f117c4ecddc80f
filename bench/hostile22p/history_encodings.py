#!/usr/bin/python3
"""Hostile pass 22 (history import): exports in odd encodings and line ends, written into OUT_DIR:
Last.fm CSV in UTF-16 (LE and BE with a byte order mark, LE without one, Excel's "Unicode text"
TSV), UTF-32, Latin-1, Windows-1252 behind a UTF-8 BOM, CRLF, CR only, mixed, a CRLF inside a
quoted cell, two exports joined (a BOM and a header in the middle), a BOM inside a name and
before one, names in NFD, U+2028 and NEL as line ends; ListenBrainz JSON lines with a BOM, in
UTF-16, CRLF, CR only, U+2028 between listens, a BOM in the middle, escaped lone surrogates, a
JSON array in UTF-8 and UTF-16; Last.fm JSON in UTF-16 and behind a BOM. The names are those of
history_encodings.sh's index (Björk - Jóga, Motörhead - Ace of Spades, Sigur Rós - Hoppípolla).

    history_encodings.py OUT_DIR
"""
import json, codecs, os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
csv_rows = 'artist,album,track,date\nBjörk,Alb 1,Jóga,01 Jan 2024 10:00\nMotörhead,Alb 2,Ace of Spades,01 Jan 2024 10:05\n'
def w(name, data): open(os.path.join(out, name), 'wb').write(data)
w('csv_utf8.csv', csv_rows.encode())
w('csv_utf16le_bom.csv', codecs.BOM_UTF16_LE + csv_rows.encode('utf-16-le'))
w('csv_utf16be_bom.csv', codecs.BOM_UTF16_BE + csv_rows.encode('utf-16-be'))
w('csv_utf16le_nobom.csv', csv_rows.encode('utf-16-le'))
w('csv_utf32_bom.csv', csv_rows.encode('utf-32'))
w('csv_utf16_tsv_excel.csv', codecs.BOM_UTF16_LE + csv_rows.replace(',', '\t').replace('\n', '\r\n').encode('utf-16-le'))
w('csv_latin1.csv', csv_rows.encode('latin-1'))
w('csv_cp1252_bom8.csv', codecs.BOM_UTF8 + csv_rows.encode('cp1252'))
w('csv_crlf.csv', csv_rows.replace('\n', '\r\n').encode())
w('csv_bom_twice_concat.csv', codecs.BOM_UTF8 + csv_rows.encode() + codecs.BOM_UTF8 + 'artist,album,track,date\nSigur Rós,Alb 3,Hoppípolla,01 Jan 2024 10:10\n'.encode())
w('csv_bom_mid_cell.csv', 'artist,album,track,date\nBjö\ufeffrk,Alb 1,Jóga,01 Jan 2024 10:00\n'.encode())
w('csv_bom_before_artist.csv', 'artist,album,track,date\n\ufeffBjörk,Alb 1,Jóga,01 Jan 2024 10:00\n'.encode())
w('csv_nfd.csv', 'artist,album,track,date\nBjo\u0308rk,Alb 1,Jo\u0301ga,01 Jan 2024 10:00\n'.encode())
w('csv_u2028.csv', 'artist,album,track,date\u2028Björk,Alb 1,Jóga,01 Jan 2024 10:00\n'.encode())
w('csv_nel.csv', 'artist,album,track,date\x85Björk,Alb 1,Jóga,01 Jan 2024 10:00\n'.encode('latin-1'))
w('csv_cr_only.csv', csv_rows.replace('\n', '\r').encode())
w('csv_mixed_crlf_lf.csv', 'artist,album,track,date\r\nBjörk,Alb 1,Jóga,01 Jan 2024 10:00\nMotörhead,Alb 2,Ace of Spades,01 Jan 2024 10:05\r\n'.encode())
w('csv_quoted_crlf_in_cell.csv', 'artist,album,track,date\r\n"Björk","Alb 1","Jó\r\nga",01 Jan 2024 10:00\r\n'.encode())
lb = [{"listened_at": 1704103200, "track_metadata": {"artist_name": "Björk", "track_name": "Jóga", "release_name": "Alb 1"}},
      {"listened_at": 1704103500, "track_metadata": {"artist_name": "Motörhead", "track_name": "Ace of Spades"}}]
lines = ''.join(json.dumps(x, ensure_ascii=False) + '\n' for x in lb)
w('lb_utf8.jsonl', lines.encode())
w('lb_bom.jsonl', codecs.BOM_UTF8 + lines.encode())
w('lb_utf16le_bom.jsonl', codecs.BOM_UTF16_LE + lines.encode('utf-16-le'))
w('lb_utf16be_bom.jsonl', codecs.BOM_UTF16_BE + lines.encode('utf-16-be'))
w('lb_crlf.jsonl', lines.replace('\n', '\r\n').encode())
w('lb_cr_only.jsonl', lines.replace('\n', '\r').encode())
w('lb_bom_mid.jsonl', codecs.BOM_UTF8 + lines.encode() + codecs.BOM_UTF8 + (json.dumps({"listened_at": 1704103800, "track_metadata": {"artist_name": "Sigur Rós", "track_name": "Hoppípolla"}}, ensure_ascii=False) + '\n').encode())
w('lb_u2028_sep.jsonl', lines.replace('\n', '\u2028').encode())
w('lb_escaped_surrogates.jsonl', (json.dumps({"listened_at": 1704103200, "track_metadata": {"artist_name": "Bj\udcf6rk", "track_name": "J\ud800ga"}}) + '\n').encode())
w('lb_json_array.json', json.dumps(lb).encode())
w('lb_json_array_utf16.json', json.dumps(lb).encode('utf-16'))
lf = {"recenttracks": {"track": [{"artist": {"#text": "Björk"}, "name": "Jóga", "album": {"#text": "Alb 1"}, "date": {"uts": "1704103200"}}]}}
w('lf_json_utf16.json', json.dumps(lf, ensure_ascii=False).encode('utf-16'))
w('lf_json_bom8.json', codecs.BOM_UTF8 + json.dumps(lf, ensure_ascii=False).encode())
w('lf_json_utf8.json', json.dumps(lf, ensure_ascii=False).encode())

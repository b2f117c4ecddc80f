# A hostile MPD: python3 fakempd.py PORT MODE
import socket, sys, threading, time
port = int(sys.argv[1]); mode = sys.argv[2]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); srv.bind(('127.0.0.1', port)); srv.listen(8)
SONG = 'file: t1.flac\nTime: 12\nduration: 12.000\nPos: 0\nId: 1\n'
def reply(cmd):
    c = cmd.split(' ')[0]
    if mode == 'endless_line' and c == 'status': return None, b'state: play\nsong: 0\nsongid: 1\nx: ' + b'A' * (1 << 20), True
    if mode == 'endless_lines' and c == 'status': return None, b'state: play\n', 'lines'
    if mode == 'close_mid' and c == 'status': return None, b'state: pl', 'close'
    if mode == 'nul' and c == 'status': return 'state: play\x00\nsong: 0\nsongid: 1\nOK\n', None, None
    if mode == 'ack' : return 'ACK [5@0] {%s} unknown command "%s"\n' % (c, c), None, None
    if c == 'status':
        if mode == 'song_out_of_range': return 'state: play\nsong: 99999999999999999999\nsongid: -1\nplaylistlength: 1\nOK\n', None, None
        if mode == 'state_weird': return 'state: \x1b[31mplay\nsong: 0\nsongid: 1\nplaylistlength: -5\nelapsed: nan\nduration: inf\nOK\n', None, None
        return 'state: play\nsong: 0\nsongid: 1\nplaylistlength: 1\nelapsed: 1.0\nduration: 12.0\nOK\n', None, None
    if c in ('currentsong',):
        if mode == 'traversal': return 'file: ../../../../etc/passwd\nPos: 0\nId: 1\nOK\n', None, None
        if mode == 'abs_uri': return 'file: /tmp/h11c/lib/t1.flac\nPos: 0\nId: 1\nOK\n', None, None
        if mode == 'huge_uri': return 'file: ' + 'a/' * 500000 + 't1.flac\nPos: 0\nId: 1\nOK\n', None, None
        return SONG + 'OK\n', None, None
    if c in ('playlistinfo', 'plchanges'):
        if mode == 'huge_queue': return None, (SONG.encode() * 2_000_000) + b'OK\n', True
        if mode == 'traversal': return 'file: ../../../../etc/passwd\nPos: 0\nId: 1\nOK\n', None, None
        if mode == 'huge_uri': return 'file: ' + 'a/' * 500000 + 't1.flac\nPos: 0\nId: 1\nOK\n', None, None
        return SONG + 'OK\n', None, None
    if c == 'idle':
        time.sleep(3600); return 'OK\n', None, None
    if c == 'config': return 'ACK [4@0] {config} you don\'t have permission for "config"\n', None, None
    return 'OK\n', None, None
def serve(conn):
    try:
        if mode == 'silent': time.sleep(3600); return
        if mode == 'banner': conn.sendall(b'HELLO WORLD\n')
        elif mode == 'banner_endless': conn.sendall(b'OK MPD ' + b'9' * (64 << 20)); time.sleep(3600); return
        else: conn.sendall(b'OK MPD 0.23.5\n')
        buf = b''; inlist = None; listok = False
        while True:
            d = conn.recv(65536)
            if not d: return
            buf += d
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                cmd = line.decode('utf-8', 'replace')
                sys.stderr.write('CMD ' + cmd[:200] + '\n'); sys.stderr.flush()
                if cmd in ('command_list_begin', 'command_list_ok_begin'):
                    inlist = []; listok = cmd == 'command_list_ok_begin'; continue
                if cmd == 'command_list_end':
                    for sub in inlist:
                        text, raw, special = reply(sub)
                        if raw is not None:
                            conn.sendall(raw)
                            if special == 'lines':
                                for i in range(10_000_000): conn.sendall(b'k%d: v\n' % i)
                            if special == 'close': conn.close(); return
                            if mode == 'endless_line':
                                for i in range(4000): conn.sendall(b'A' * (1 << 20))
                            continue
                        if text.startswith('ACK'): conn.sendall(text.encode()); break
                        body = text[:-3] if text.endswith('OK\n') else text
                        conn.sendall((body + ('list_OK\n' if listok else '')).encode())
                    else:
                        conn.sendall(b'OK\n')
                    inlist = None; continue
                if inlist is not None:
                    inlist.append(cmd); continue
                text, raw, special = reply(cmd)
                if text is not None: conn.sendall(text.encode())
                if raw is not None:
                    if special == 'lines':
                        conn.sendall(raw)
                        for i in range(10_000_000): conn.sendall(b'k%d: v\n' % i)
                    elif special == 'close': conn.sendall(raw); conn.close(); return
                    else:
                        conn.sendall(raw)
                        if mode == 'endless_line':
                            for i in range(4000): conn.sendall(b'A' * (1 << 20))
    except Exception as e:
        sys.stderr.write('ERR %s\n' % e)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()

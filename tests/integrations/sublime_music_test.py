#!/usr/bin/python3
"""A real desktop Subsonic app against `clapsearch serve` (issue 54): Debian's Sublime Music
(0.11.16) talks to its server only through its Subsonic adapter
(sublime_music.adapters.subsonic.SubsonicAdapter); this test drives that adapter, unchanged, the
way the app's views do (ping, artists, albums of every list type, an album, a song, genres,
search, the folder view, playlists made, changed and deleted, a scrobble, the play queue, the stream, download
and cover URLs it hands its player), against a real server on loopback over a small tagged
library indexed with the tiny test model. The adapter parses every response into its own
dataclasses, so a field the app needs that is missing or mistyped fails here as it would in the
app. Token auth (salt_auth), as the app's default. The server is stopped at the end.
(CTest: SublimeMusic.Adapter; exit 77 = skipped when sublime-music is not installed.)

    sublime_music_test.py CLAPSEARCH_BINARY MODEL_DIR
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import urllib.request

SKIP = 77


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: sublime_music_test.py CLAPSEARCH_BINARY MODEL_DIR')
    binary, model = (os.path.abspath(a) for a in sys.argv[1:])
    try:
        from sublime_music.adapters import AlbumSearchQuery
        from sublime_music.adapters.adapter_base import ConfigurationStore
        from sublime_music.adapters.subsonic.adapter import SubsonicAdapter
    except ImportError as e:
        print(f'SublimeMusic.Adapter skipped: sublime-music is not installed ({e}; scripts/install-deps.sh --tests)')
        sys.exit(SKIP)
    with tempfile.TemporaryDirectory(prefix='clapsearch-sublime-') as tmp:
        env = dict(os.environ, HF_HOME=os.path.join(tmp, 'hf'), HF_HUB_OFFLINE='1', XDG_CACHE_HOME=os.path.join(tmp, 'cache'))
        env.pop('CLAPSEARCH_DB', None)
        music, db = os.path.join(tmp, 'music'), os.path.join(tmp, 'index.db')
        songs = [('Artist A/First Light', 1, 'Dawn', 'sine=f=220:d=6'), ('Artist A/First Light', 2, 'Noon', 'sine=f=330:d=7'),
                 ('Band B/Second Wind', 1, 'Gale', 'anoisesrc=seed=3:color=pink:d=6:a=0.3')]
        for folder, n, title, source in songs:
            artist, album = folder.split('/')
            os.makedirs(os.path.join(music, folder), exist_ok=True)
            subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source,
                            '-metadata', f'title={title}', '-metadata', f'artist={artist}', '-metadata', f'album={album}',
                            '-metadata', f'track={n}', '-metadata', 'genre=Ambient', '-metadata', 'date=2021',
                            os.path.join(music, folder, f'{n:02d} {title}.flac')], check=True)
        subprocess.run([binary, 'index', music, '--db', db, '--model', model, '-q'], env=env, check=True)
        subprocess.run([binary, 'user', 'add', 'alice', '--db', db], env=env, input='sesame seed\n', text=True,
                       check=True, capture_output=True)
        server = subprocess.Popen([binary, 'serve', '--db', db, '--model', model, '--port', '0'], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = None
            for line in server.stdout:
                m = re.match(r'clapsearch serve: listening on (http://\S+)', line)
                if m:
                    url = m.group(1).rstrip('/')
                    break
            check(url, 'the server did not say where it listens')
            ConfigurationStore.MOCK = True  # no desktop keyring here: the secret stays in memory
            config = ConfigurationStore(server_address=url, username='alice', verify_cert=True, salt_auth=True)
            config.set_secret('password', 'sesame seed')
            adapter = SubsonicAdapter(config, pathlib.Path(tmp, 'sublime-data'))
            os.makedirs(os.path.join(tmp, 'sublime-data'))
            try:
                run_checks(adapter, AlbumSearchQuery, binary, db, env)
            finally:
                adapter.shutdown()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    print('SublimeMusic.Adapter: all checks passed')


def run_checks(adapter, AlbumSearchQuery, binary, db, env):
    adapter._set_ping_status()  # what the app's ping thread calls; it also reads the API version
    check(adapter.ping_status, 'the adapter could not ping the server')
    check(adapter._version.value == b'1.16.1', f'API version {adapter._version.value!r}')
    check(adapter.can_get_genres, 'genres need API 1.9.0')

    artists = {a.name: a for a in adapter.get_artists()}
    check(set(artists) == {'Artist A', 'Band B'}, f'artists: {sorted(artists)}')
    artist = adapter.get_artist(artists['Artist A'].id)
    check([al.name for al in artist.albums] == ['First Light'], f'albums of Artist A: {artist.albums}')

    class Genre:
        name = 'Ambient'
    for kind in AlbumSearchQuery.Type:
        albums = adapter.get_albums(AlbumSearchQuery(kind, year_range=(2000, 2030), genre=Genre()))
        names = sorted(al.name for al in albums)
        # Nothing is starred or played yet: those lists are empty, every other one lists both albums.
        want = [] if kind.name in ('STARRED', 'FREQUENT', 'RECENT') else ['First Light', 'Second Wind']
        check(names == want, f'get_albums {kind.name}: {names}')

    album = adapter.get_album(artist.albums[0].id)
    check([s.title for s in album.songs] == ['Dawn', 'Noon'], f'songs of the album: {album.songs}')
    check([s.duration.total_seconds() for s in album.songs] == [6, 7], 'durations in whole seconds')
    dawn = adapter.get_song_details(album.songs[0].id)
    check((dawn.title, dawn.album.name, dawn.artist.name, dawn.year) == ('Dawn', 'First Light', 'Artist A', 2021),
          f'song details: {dawn}')

    genres = adapter.get_genres()
    check([(g.name, g.song_count, g.album_count) for g in genres] == [('Ambient', 3, 2)], f'genres: {genres}')

    found = adapter.search('Gale')
    check([s.title for s in found.songs] == ['Gale'], f'search songs: {found.songs}')

    root = adapter.get_directory('root')
    check(sorted(c.name for c in root.children) == ['Artist A', 'Band B'], f'folder view: {root.children}')
    folder = adapter.get_directory(root.children[0].id)
    check([c.name for c in folder.children] == ['First Light'], f'folder: {folder.children}')

    made = adapter.create_playlist('Road', [dawn])
    check([s.id for s in made.songs] == [dawn.id], f'created playlist: {made}')
    changed = adapter.update_playlist(made.id, name='Road trip', comment='for the car', public=False,
                                      song_ids=[s.id for s in album.songs])
    check((changed.name, changed.comment, [s.title for s in changed.songs]) == ('Road trip', 'for the car', ['Dawn', 'Noon']),
          f'updated playlist: {changed}')
    listed = adapter.get_playlists()
    check([(p.name, p.song_count, p.owner) for p in listed] == [('Road trip', 2, 'alice')], f'playlists: {listed}')

    adapter.scrobble_song(dawn)
    history = json.loads(subprocess.run([binary, 'history', '--user', 'alice', '--json', '--db', db], env=env,
                                        capture_output=True, text=True, check=True).stdout)
    check(history['plays'] == 1, f'the scrobble is a play in the history: {history}')

    for uri, kind in ((adapter.get_song_stream_uri(dawn.id), 'audio/'), (adapter.get_song_file_uri(dawn.id, ['http']), 'audio/'),
                      (adapter.get_cover_art_uri(album.cover_art, 'http', 300), None)):
        try:
            with urllib.request.urlopen(uri, timeout=30) as r:
                body, ctype = r.read(), r.headers.get('Content-Type', '')
            if kind:
                check(ctype.startswith(kind) and len(body) > 1000, f'{uri}: {ctype}, {len(body)} bytes')
        except urllib.error.HTTPError as e:
            # The library has no cover art: the spec's answer is an error, not a broken image.
            check(kind is None and e.code == 404, f'{uri}: HTTP {e.code}')

    # The play queue it keeps in step with other devices (Subsonic 1.12.0: apps that see 1.16.1 use it).
    from datetime import timedelta
    check(adapter.get_play_queue() is None, 'no queue saved yet')
    adapter.save_play_queue([s.id for s in album.songs], current_song_index=1, position=timedelta(seconds=12.5))
    queue = adapter.get_play_queue()
    check(queue is not None and [s.title for s in queue.songs] == ['Dawn', 'Noon'], f'queue songs: {queue}')
    check((queue.current_index, queue.position, queue.changed_by) == (1, timedelta(seconds=12.5), 'Sublime Music'),
          f'queue place: {queue}')

    adapter.delete_playlist(made.id)
    check(adapter.get_playlists() == [], 'the playlist is gone')


if __name__ == '__main__':
    main()

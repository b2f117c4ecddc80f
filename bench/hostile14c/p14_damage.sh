#!/bin/bash
# Hostile pass 14: an SQLite index damaged by hand (schema, meta rows, embedding blobs,
# durations), then `status`, `status --check`, `search` and `similar` on it.
# Use: p14_damage.sh BINARY INDEX.db   (INDEX: a small index whose model folder exists)
# Writes one block per case to stdout: the case, each command's exit code and its first lines.
# Work folder: $W (default /tmp/h14c/dmg).
set -u
BIN=$(realpath "$1"); SRC=$(realpath "$2"); W=${W:-/tmp/h14c/dmg}
mkdir -p "$W"; cd "$W" || exit 1
run() {  # name, SQL
  rm -f c.db c.db-*; cp "$SRC" c.db
  sqlite3 c.db "$2" 2>sql.err || { echo "== $1: SQL refused: $(head -c 200 sql.err)"; return; }
  echo "== $1"
  for cmd in "status" "status --check" "search piano --top 3" "similar 1 --top 3"; do
    # shellcheck disable=SC2086
    out=$(timeout 60 "$BIN" $cmd --db c.db 2>&1); rc=$?
    # the lines that can say something is wrong: errors, warnings, audio, damage
    printf '  [%s] rc=%s %s\n' "$cmd" "$rc" "$(printf '%s' "$out" | grep -Ei 'error|warn|damag|^audio|^windows|^tracks|nan|inf ' | grep -v '^exclude' | head -c 700 | tr '\n' '|')"
  done
}
z=$(printf '00%.0s' $(seq 512)); nan=$(printf '0000C07F%.0s' $(seq 512)); inf=$(printf '0000807F%.0s' $(seq 512))
den=$(printf '01000000%.0s' $(seq 512)); big=$(printf '0000807F%.0s' $(seq 1))$(printf '00000000%.0s' $(seq 511))
# embedding blobs
run track-emb-short   "UPDATE tracks SET embedding = x'00000000' WHERE id = 1"
run track-emb-odd     "UPDATE tracks SET embedding = x'0000000000' WHERE id = 1"
run track-emb-empty   "UPDATE tracks SET embedding = x'' WHERE id = 1"
run track-emb-text    "UPDATE tracks SET embedding = 'hello' WHERE id = 1"
run track-emb-int     "UPDATE tracks SET embedding = 7 WHERE id = 1"
run track-emb-long    "UPDATE tracks SET embedding = embedding || embedding WHERE id = 1"
run track-emb-zero    "UPDATE tracks SET embedding = x'$(printf '00000000%.0s' $(seq 512))' WHERE id = 1"
run track-emb-nan     "UPDATE tracks SET embedding = x'$nan' WHERE id = 1"
run track-emb-inf     "UPDATE tracks SET embedding = x'$inf' WHERE id = 1"
run track-emb-denorm  "UPDATE tracks SET embedding = x'$den' WHERE id = 1"
run track-emb-one-inf "UPDATE tracks SET embedding = x'$big' WHERE id = 1"
run win-emb-short     "UPDATE windows SET embedding = x'00000000' WHERE id = 1"
run win-emb-nan       "UPDATE windows SET embedding = x'$nan' WHERE id = 1"
run win-emb-inf-all   "UPDATE windows SET embedding = x'$inf'"
run win-emb-zero-all  "UPDATE windows SET embedding = x'$(printf '00000000%.0s' $(seq 512))'"
run win-emb-null      "UPDATE windows SET embedding = NULL WHERE id = 1"
run win-emb-long      "UPDATE windows SET embedding = embedding || x'00' WHERE id = 2"
# durations and window times
run dur-1e308   "UPDATE tracks SET duration_s = 1e308"
run dur-m1e308  "UPDATE tracks SET duration_s = -1e308"
run dur-inf     "UPDATE tracks SET duration_s = 9e999 WHERE id = 1"
run dur-neg     "UPDATE tracks SET duration_s = -5 WHERE id = 1"
run dur-text    "UPDATE tracks SET duration_s = 'long' WHERE id = 1"
run dur-huge1   "UPDATE tracks SET duration_s = 1e17 WHERE id = 1"
run win-start-inf "UPDATE windows SET start_s = 9e999, end_s = -9e999 WHERE id = 1"
run win-idx-huge  "UPDATE windows SET idx = 9223372036854775807 WHERE id = 1"
run window_total-huge "UPDATE tracks SET window_total = 9223372036854775807 WHERE id = 1"
run window_total-neg  "UPDATE tracks SET window_total = -3 WHERE id = 1"
# meta rows
for k in dim hop_s window_s silence_db model_id precision model_revision generation library_generation content_hash config_hash audio_hash roots_changed_at precision_choice changes_from; do
  run "meta-$k-missing" "DELETE FROM meta WHERE key = '$k'"
done
for v in 0 -512 1 513 1e308 9e999 "'abc'" "x'00'" NULL 512.5 4294967808 9223372036854775807; do
  run "meta-dim=$v" "UPDATE meta SET value = $v WHERE key = 'dim'"
done
for k in hop_s window_s; do for v in 0 -5 1e-300 1e308 9e999 "'x'" NULL; do
  run "meta-$k=$v" "UPDATE meta SET value = $v WHERE key = '$k'"
done; done
for v in "'fp64'" "''" NULL "'int8'" "'bf16'"; do run "meta-precision=$v" "UPDATE meta SET value = $v WHERE key = 'precision'"; done
run meta-precision_choice-junk "UPDATE meta SET value = '{\"chosen\":' WHERE key = 'precision_choice'"
run meta-generation-neg "UPDATE meta SET value = -1 WHERE key = 'generation'"
run meta-empty "DELETE FROM meta"
# schema by hand
run tbl-renamed "ALTER TABLE plays RENAME TO plays_old"
run tbl-view "ALTER TABLE plays RENAME TO p2; CREATE VIEW plays AS SELECT * FROM p2"
run tbl-view-tracks "ALTER TABLE tracks RENAME TO t2; CREATE VIEW tracks AS SELECT * FROM t2"
run col-extra "ALTER TABLE tracks ADD COLUMN mine TEXT"
run col-extra-notnull "ALTER TABLE tracks ADD COLUMN mine2 INTEGER NOT NULL DEFAULT 3"
run col-dropped "ALTER TABLE tracks DROP COLUMN isrc"
run col-renamed "ALTER TABLE tracks RENAME COLUMN album_artist TO aa"
run trig-abort "CREATE TRIGGER t BEFORE UPDATE ON tracks BEGIN SELECT RAISE(ABORT, 'nope'); END"
run trig-ins-plays "CREATE TRIGGER t BEFORE INSERT ON plays BEGIN SELECT RAISE(FAIL, 'no plays'); END"
run idx-unique-bad "CREATE UNIQUE INDEX mine ON tracks(duration_s)"
run idx-expr "CREATE INDEX mine ON tracks(lower(title))"
run ver-13 "UPDATE schema_version SET version = 13"
run ver-13-newtable "UPDATE schema_version SET version = 13; CREATE TABLE future(x)"
run ver-2rows "INSERT INTO schema_version VALUES (12)"
run ver-2rows-diff "INSERT INTO schema_version VALUES (5)"
run quoted-Tracks "CREATE TABLE \"Tracks\"(x)"
run tbl-shadow-temp "CREATE TABLE \"main\"(x)"
run fk-off-orphan "PRAGMA foreign_keys=OFF; INSERT INTO windows(track_id, idx, start_s, end_s, loudness_dbfs, silent, embedding) SELECT 999, 0, 0, 10, -10, 0, embedding FROM windows WHERE id = 1"

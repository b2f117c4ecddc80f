#!/usr/bin/env bash
# `cmake --install BUILD --prefix P` lays out what the package ships: the program, the man page,
# the three completions, the systemd units, the docs, the settings file, the players' plugins (beets, and
# Navidrome's clapsearch.ndp when the build makes it) and the Python package; the installed
# program runs and the installed units name it. (CTest: Package.InstallLayout.)
#   install_layout.sh BUILD_DIR
set -euo pipefail
build="$1"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
bad=0
for f in bin/clapsearch share/man/man1/clapsearch.1.gz share/bash-completion/completions/clapsearch \
         share/zsh/vendor-completions/_clapsearch share/fish/vendor_completions.d/clapsearch.fish \
         lib/systemd/system/clapsearch.service lib/systemd/system/clapsearch-index.service \
         lib/systemd/system/clapsearch-index.timer lib/systemd/system/clapsearch-mix.service \
         lib/systemd/system/clapsearch-mix.timer lib/systemd/user/clapsearch.service \
         share/doc/clapsearch/copyright share/doc/clapsearch/changelog.gz share/doc/clapsearch/operations-service.md \
         etc/clapsearch/clapsearch.toml share/clapsearch/beets/clapsearch.py; do
  [ -f "$prefix/$f" ] || { echo "missing: $f"; bad=1; }
done
# Output is captured before grep -q reads it: with pipefail, a writer killed by SIGPIPE when
# grep -q stops early would fail the pipeline at random.
version="$("$prefix/bin/clapsearch" --version)" || true
grep -q '^clapsearch [0-9]' <<<"$version" || { echo "the installed program does not run"; bad=1; }
# The shipped settings file is valid as it is (every key commented out, both sections known).
CLAPSEARCH_CONFIG_FILE="$prefix/etc/clapsearch/clapsearch.toml" "$prefix/bin/clapsearch" status --help >/dev/null ||
  { echo "the shipped clapsearch.toml is refused"; bad=1; }
# ... and with every key uncommented (each key must be a real option of its section's command).
sed -E 's/^# ([a-z-]+ = )/\1/' "$prefix/etc/clapsearch/clapsearch.toml" > "$prefix/all-keys.toml"
out="$(CLAPSEARCH_CONFIG_FILE="$prefix/all-keys.toml" "$prefix/bin/clapsearch" status --db /nonexistent/x.db 2>&1 || true)"
if grep -q "unknown setting\|not in a \[command\]" <<<"$out"; then echo "clapsearch.toml documents a key no command has: $out"; bad=1; fi
# ... and it lists every option of `index` and `serve` (operations-service.md says so): a key
# added to a command and forgotten here would leave the service's users without its default.
missing="$(python3 - "$prefix/etc/clapsearch/clapsearch.toml" "$prefix/bin/clapsearch" <<'PY'
import re, subprocess, sys
text = open(sys.argv[1]).read()
parts = re.split(r"^\[(\w+)\]", text, flags=re.M)
sections = {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}
for command in ("index", "serve"):
    listed = set(re.findall(r"^# ?([a-z][a-z0-9-]*) = ", sections.get(command, ""), flags=re.M))
    usage = subprocess.run([sys.argv[2], command, "--help"], capture_output=True, text=True).stdout
    options = set(re.findall(r"^  (?:-\w,)?--([a-z][a-z0-9-]*)", usage, flags=re.M)) - {"help"}
    for key in sorted(options - listed):
        print(f"[{command}] {key}")
PY
)"
[ -z "$missing" ] || { echo "clapsearch.toml does not list these options: $missing"; bad=1; }
# The Navidrome plugin, when the build makes it: a zip holding the manifest and the module, as Navidrome loads it.
if grep -q '^CLAPSEARCH_NAVIDROME_PLUGIN:BOOL=ON' "$build/CMakeCache.txt"; then
  ndp="$prefix/share/clapsearch/navidrome/clapsearch.ndp"
  if [ -f "$ndp" ]; then
    listing="$(python3 -m zipfile -l "$ndp" 2>&1)" || true
    for member in manifest.json plugin.wasm; do
      grep -q "^$member " <<<"$listing" || { echo "clapsearch.ndp lacks $member: $listing"; bad=1; }
    done
  else
    echo "missing: share/clapsearch/navidrome/clapsearch.ndp"; bad=1
  fi
fi
# The Python package, when the build has it: installed where that Python looks, and importable.
python="$(sed -n 's/^Python_EXECUTABLE:FILEPATH=//p' "$build/CMakeCache.txt")"
if grep -q '^CLAPSEARCH_PYTHON:BOOL=ON' "$build/CMakeCache.txt" && [ -n "$python" ]; then
  site="$(ls -d "$prefix"/lib/python3*/dist-packages 2>/dev/null | head -n 1)"
  for f in __init__.py __init__.pyi laion_clap.py py.typed; do
    [ -f "$site/clapsearch/$f" ] || { echo "missing: ${site#"$prefix"/}/clapsearch/$f"; bad=1; }
  done
  imported="$(cd / && PYTHONPATH="$site" "$python" -c 'import clapsearch; print(clapsearch.__file__)' 2>&1)" || true
  [ "$imported" = "$site/clapsearch/__init__.py" ] || { echo "the installed Python package does not import: $imported"; bad=1; }
fi
man="$(gzip -dc "$prefix/share/man/man1/clapsearch.1.gz")" || { echo "man page is not gzip"; bad=1; }
grep -q '^\.TH CLAPSEARCH 1' <<<"$man" || { echo "man page broken"; bad=1; }
exit $bad

# Sourced by the tests that drive real npm clients (tests/subsonic, tests/openapi, tests/browser).
#
# npm_install DIR PACKAGE: `npm ci` in DIR from its package-lock.json when DIR/node_modules lacks
# PACKAGE or is older than the lockfile. Under an exclusive lock on DIR itself (flock), because two
# tests share one folder: ctest -j2 starts Server.Subsonic and Server.SubsonicPostgres together on a
# fresh clone, and two `npm ci` at once delete each other's files (ENOTEMPTY, ENOENT: both failed
# when reproduced, and CI failed on it). The second waits, then finds node_modules current.
# Returns npm's status; the caller names the failure.
npm_install() {
  local dir=$1 package=$2
  flock "$dir" bash -c '
    cd "$1" || exit 1
    if [[ ! -d node_modules/$2 || package-lock.json -nt node_modules/.package-lock.json ]]; then
      npm ci --no-audit --no-fund --loglevel=error
    fi' npm_install "$dir" "$package"
}

# For every commit that changed a file holding a `kMigrations[] = {` array, extract each store's
# migrations as that commit had them and compare the columns' nullability (the current parser)
# with today's: a column NOT NULL in an old text but nullable today would refuse a legit old index;
# a column made by another migration number than today's would be "version behind tables".
# Usage (from a scratch folder): g++ -std=c++20 -I REPO/src p17_parts.cpp REPO/src/store/schema_tables.cpp -o parts
#   && python3 p17_migrations_history.py REPO
import re, subprocess, os, sys, collections
R = sys.argv[1]
def git(*a): return subprocess.run(['git', '-C', R] + list(a), capture_output=True, text=True, errors='replace').stdout
def arrays(text):
    out = []
    for m in re.finditer(r'kMigrations\[\]\s*=\s*\{', text):
        body = text[m.end():]
        end = body.find('\n};')
        body = body[:end]
        out.append([s for s in re.findall(r'R"(\w*)\((.*?)\)\1"', body, re.S)])
    return out
def parts(migs):
    for i, (_, sql) in enumerate(migs):
        open(f'm{i}.sql', 'w').write(sql)
    o = subprocess.run(['./parts'] + [f'm{i}.sql' for i in range(len(migs))], capture_output=True, text=True).stdout
    return {l.split()[0]: (int(l.split()[1]), l.split()[2]) for l in o.splitlines()}
def store_of(migs):
    t = ''.join(s for _, s in migs)
    return 'pg' if ('BIGINT' in t or 'BYTEA' in t) else 'sqlite'
cur = {}
for f in git('grep', '-l', 'kMigrations\\[\\] = {', 'HEAD', '--', 'src').split():
    f = f.split(':', 1)[1]
    for a in arrays(git('show', 'HEAD:' + f)):
        cur[store_of(a)] = parts(a)
print({k: len(v) for k, v in cur.items()})
commits = git('log', '--format=%h', '--', 'src/store/sqlite_migrations.cpp', 'src/store/postgres_migrations.cpp', 'src/store/sqlite.cpp', 'src/store/postgres.cpp', 'src/store/postgres_store.cpp', 'src/store/sqlite_store.cpp', 'src/index/store.cpp', 'src/index/sqlite.cpp', 'src/index/postgres.cpp', 'src/store/store.cpp').split()
seen = set(); bad = collections.defaultdict(set); n = 0
for c in commits:
    files = git('grep', '-l', 'kMigrations\\[\\] = {', c, '--', 'src').split()
    for f in files:
        f = f.split(':', 1)[1]
        for a in arrays(git('show', c + ':' + f)):
            key = hash(tuple(s for _, s in a))
            if key in seen: continue
            seen.add(key); n += 1
            st = store_of(a); old = parts(a)
            for col, (ver, nul) in old.items():
                now = cur[st].get(col)
                if now and nul == 'notnull' and now[1] == 'null':
                    bad[(st, col)].add((c, ver, now[0]))
                if now and now[0] != ver:
                    bad[(st, col, 'version')].add((c, ver, now[0]))
print('distinct migration arrays', n, 'commits', len(commits))
for k, v in sorted(bad.items()):
    print(k, sorted(v)[:3], len(v))

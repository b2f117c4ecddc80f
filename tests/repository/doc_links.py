#!/usr/bin/env python3
"""Every link between the repository's Markdown files leads somewhere: the file (or folder) a
relative link names exists, and its #anchor is a heading of that file, spelled as GitHub makes
heading anchors (lower case, punctuation dropped, spaces as hyphens, -1, -2 ... for repeats).
A new user follows these links from the README; one that lands on the top of a long page, or
nowhere, is a broken promise.

Usage: doc_links.py REPO
"""

import os
import re
import subprocess
import sys

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def slug(heading):
    text = re.sub(r"<[^>]+>", "", heading.strip()).lower()  # inline HTML is not part of the anchor
    text = re.sub(r"[^\w\- ]", "", text)  # Unicode letters and digits, _, - and spaces stay
    return text.replace(" ", "-")


def prose_lines(path):
    """The file's lines outside fenced code blocks."""
    inside = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                inside = not inside
                continue
            if not inside:
                yield number, line


def anchors_of(path, cache={}):  # noqa: B006 (a cache on purpose)
    if path not in cache:
        seen, out = {}, set()
        for _, line in prose_lines(path):
            m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
            if m:
                base = slug(m.group(1))
                n = seen.get(base, 0)
                seen[base] = n + 1
                out.add(base if n == 0 else f"{base}-{n}")
            out.update(re.findall(r"<a\s+(?:name|id)=\"([^\"]+)\"", line))
        cache[path] = out
    return cache[path]


def main():
    repo = os.path.abspath(sys.argv[1])
    os.chdir(repo)
    try:
        tracked = subprocess.run(["git", "ls-files", "*.md"], capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # an unpacked source tarball
        tracked = [os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk(".") for f in fs if f.endswith(".md")]
        tracked = [p for p in tracked if "node_modules" not in p and not p.startswith("build")]
    broken = []
    for doc in sorted(tracked):
        for number, line in prose_lines(doc):
            for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
                    continue
                path, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
                if not os.path.exists(resolved):
                    broken.append(f"{doc}:{number}: {target}: no file {resolved}")
                elif anchor and resolved.endswith(".md") and anchor not in anchors_of(resolved):
                    broken.append(f"{doc}:{number}: {target}: {resolved} has no heading #{anchor}")
    if broken:
        print("links that lead nowhere:", *broken, sep="\n  ", file=sys.stderr)
        return 1
    print(f"every relative link in {len(tracked)} Markdown files leads to a file and heading that exist")
    return 0


if __name__ == "__main__":
    sys.exit(main())

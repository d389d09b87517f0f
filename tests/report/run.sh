#!/bin/sh
# The report's test: writes dumps (make_dumps.py), installs playwright-core from npm as pinned
# by package-lock.json into build/report/node (`npm ci`, again only when the lock changes), and
# runs test_report.js: the command's behaviour, then the pages in headless Debian chromium.
# Last line: "N passed, N failed". Needs build/tracemalloc (make builds it first).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
node_dir="$root/build/report/node"
cd "$root" || exit 1
if ! cmp -s tests/report/package-lock.json "$node_dir/package-lock.json" ||
   [ ! -f "$node_dir/node_modules/playwright-core/package.json" ]; then
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp tests/report/package.json tests/report/package-lock.json "$node_dir/"
  if ! (cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
    rm -rf "$node_dir"
    echo "npm ci failed: cannot install playwright-core"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi
exec node tests/report/test_report.js "$node_dir/node_modules"

#!/usr/bin/env bash
# The app's install step (the analogue of `pip install -r requirements.txt`): run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "install: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "node not found on PATH ($PATH); install Node.js >= 20 (apt-get install nodejs)"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "node $(node --version) is too old; demo-chat needs Node.js >= 20"
[ -f release.json ] || fail "release.json missing in $(pwd)"
[ -f server.mjs ] || fail "server.mjs missing in $(pwd)"
version=$(node -e 'const r = JSON.parse(require("fs").readFileSync("release.json", "utf8")); if (typeof r.version !== "string") process.exit(1); console.log(r.version)') \
  || fail "release.json in $(pwd) has no string \"version\""
node --check server.mjs || fail "server.mjs does not parse"

printf '%s\n' "$version" > .installed
echo "install: demo-chat $version installed in $(pwd) (node $(node --version))"

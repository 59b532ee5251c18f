#!/usr/bin/env bash
# The app's install step (the analogue of `pip install -r requirements.txt`): run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "install: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "node not found on PATH ($PATH); install Node.js >= 20 (apt-get install nodejs)"
[ -f release.json ] || fail "release.json missing in $(pwd)"
[ -f server.mjs ] || fail "server.mjs missing in $(pwd)"
# one node for the version checks and release.json (each node start is about 0.1 s: an install runs on every deploy)
read -r major node_version version < <(node -e '
  let v = "";
  try { v = JSON.parse(require("fs").readFileSync("release.json", "utf8")).version; } catch {}
  console.log(process.versions.node.split(".")[0], process.version, typeof v === "string" && /^\S+$/.test(v) ? v : "-");
') || fail "node did not run"
[ "$major" -ge 20 ] || fail "node $node_version is too old; demo-chat needs Node.js >= 20"
[ "$version" != "-" ] || fail "release.json in $(pwd) has no string \"version\""
node --check server.mjs || fail "server.mjs does not parse"

printf '%s\n' "$version" > .installed
echo "install: demo-chat $version installed in $(pwd) (node $node_version)"

#!/usr/bin/env bash
# The app's install step (the analogue of `pip install -r requirements.txt`): run from anywhere.
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "install: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || fail "node not found on PATH ($PATH); install Node.js >= 20 (apt-get install nodejs)"
[ -f release.json ] || fail "release.json missing in $(pwd)"
[ -f server.mjs ] || fail "server.mjs missing in $(pwd)"
# one node for the version checks, release.json and the syntax check of server.mjs: each node start
# costs 0.1-0.3 s of CPU and an install runs on every deploy (the check is `node --check`'s: the
# same parser, as an ES module, nothing run; vm.SourceTextModule needs --experimental-vm-modules)
read -r major node_version version parsed < <(node --experimental-vm-modules --no-warnings -e '
  const fs = require("fs");
  let v = "";
  try { v = JSON.parse(fs.readFileSync("release.json", "utf8")).version; } catch {}
  let parsed = "ok";
  try {
    new (require("vm").SourceTextModule)(fs.readFileSync("server.mjs", "utf8"), { identifier: "server.mjs" });
  } catch {
    parsed = "no";
  }
  console.log(process.versions.node.split(".")[0], process.version, typeof v === "string" && /^\S+$/.test(v) ? v : "-", parsed);
') || fail "node did not run"
[ "$major" -ge 20 ] || fail "node $node_version is too old; demo-chat needs Node.js >= 20"
[ "$version" != "-" ] || fail "release.json in $(pwd) has no string \"version\""
# on failure, node --check says where (vm gives no line); only then a second node start
[ "$parsed" = ok ] || { node --check server.mjs || true; fail "server.mjs does not parse"; }

printf '%s\n' "$version" > .installed
echo "install: demo-chat $version installed in $(pwd) (node $node_version)"

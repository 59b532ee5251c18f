#!/usr/bin/env bash
# Applies pending migrations/NNN_name.sql in order. Connection comes only from the libpq env
# (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD), so no secret is ever on a command line.
#   migrate.sh            apply every pending migration, one transaction each (file + its schema_migrations row)
#   migrate.sh --pending  print the pending file names, one a line, and apply nothing
set -euo pipefail
cd "$(dirname "$0")"

fail() { echo "migrate: $*" >&2; exit 1; }
command -v psql >/dev/null 2>&1 || fail "psql not found on PATH; install the PostgreSQL client (apt-get install postgresql-client)"

mode=apply
case "${1:-}" in
  "") ;;
  --pending) mode=pending ;;
  *) fail "unknown argument '$1' (usage: migrate.sh [--pending])" ;;
esac

psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

# --pending must not create anything, so only read schema_migrations when it exists
exists=$(psql_ -At -c "select to_regclass('schema_migrations') is not null") || fail "cannot connect to PostgreSQL (PGHOST=${PGHOST:-} PGPORT=${PGPORT:-} PGDATABASE=${PGDATABASE:-})"
applied=""
if [ "$exists" = "t" ]; then applied=$(psql_ -At -c "select version from schema_migrations"); fi

pending=()
shopt -s nullglob
for f in migrations/[0-9][0-9][0-9]_*.sql; do   # glob order is lexical, i.e. by NNN
  v=$(basename "$f" .sql)
  grep -qxF "$v" <<<"$applied" || pending+=("$f")
done

if [ "$mode" = pending ]; then
  for f in "${pending[@]}"; do basename "$f"; done
  exit 0
fi

if [ "${#pending[@]}" -eq 0 ]; then echo "migrate: no pending migrations"; exit 0; fi
psql_ <<'SQL'
set client_min_messages = warning;
select pg_advisory_lock(hashtext('schema_migrations')) as locked \gset
create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now());
SQL
# One transaction per file: an advisory lock (so two hosts migrating at once apply each file once),
# a re-check, the file, its schema_migrations row. Names travel as psql variables, never spliced into SQL.
step=$(cat <<'SQL'
select pg_advisory_xact_lock(hashtext('schema_migrations')) as locked \gset
select exists (select 1 from schema_migrations where version = :'v') as already \gset
\if :already
\echo '__already_applied__'
\else
\i :f
insert into schema_migrations (version, applied_at) values (:'v', now());
\endif
SQL
)
for f in "${pending[@]}"; do
  v=$(basename "$f" .sql)
  out=$(psql_ --single-transaction -v v="$v" -v f="$f" -f - <<<"$step") \
    || { [ -n "$out" ] && printf '%s\n' "$out"; fail "$v failed; rolled back, nothing of it was applied"; }
  if [ "$out" = "__already_applied__" ]; then echo "migrate: $v was applied meanwhile by another run; skipped"; continue; fi
  [ -n "$out" ] && printf '%s\n' "$out"
  echo "migrate: applied $v"
done

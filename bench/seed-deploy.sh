#!/usr/bin/env bash
# The seed release plan's deploy, as the plain sequential shell an engineer runs by hand: a dump over
# ssh, fetch + checkout + install over ssh, the migrations over ssh, both services restarted in one
# ssh command, health polled with curl until it answers, the test chat, the journal's last lines.
# Five ssh connections (no multiplexing), as the seed's scripts make them. The benchmark's baseline:
# the same steps cutover runs, without cutover's checks.
#
# Set by bench/deploy.ts: SSH_KEY KNOWN_HOSTS SSH_HOST SSH_PORT APP TAG UNITS (space-separated)
# PGHOST PGPORT PGUSER PGDATABASE BACKUP_DIR HEALTH_URL CHAT_URL
set -euo pipefail

ssh_() {
  ssh -F /dev/null -i "$SSH_KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ControlPath=none -p "$SSH_PORT" "root@$SSH_HOST" "$@"
}
pg="PGHOST=$PGHOST PGPORT=$PGPORT PGUSER=$PGUSER PGDATABASE=$PGDATABASE"

echo "=== Deploying $TAG ==="
echo "1. Backup"
ssh_ "$pg pg_dump -Fc" > "$BACKUP_DIR/backup_pre_$TAG.dump"

echo "2. Fetch, check out, install"
ssh_ "cd $APP && git fetch --quiet --tags && git -c advice.detachedHead=false checkout --quiet $TAG && bash install.sh"

echo "3. Migrations"
ssh_ "cd $APP && $pg bash migrate.sh"

echo "4. Restart"
ssh_ "sudo systemctl restart $UNITS && sudo systemctl status ${UNITS%% *} >/dev/null"

echo "5. Health"
for i in $(seq 600); do
  curl -fsS -o /dev/null "$HEALTH_URL" 2>/dev/null && break
  [ "$i" = 600 ] && { echo "health never answered" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$HEALTH_URL"; echo

echo "6. Test chat"
curl -fsS -X POST "$CHAT_URL" -H 'Content-Type: application/json' -d '{"user_id": 1, "message": "Mes dépenses du mois"}'; echo

echo "7. Recent logs"
ssh_ "sudo journalctl -u ${UNITS%% *} -n 20 --no-pager"
echo "=== Deployment complete ==="

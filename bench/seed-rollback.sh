#!/usr/bin/env bash
# The seed release plan's rollback script (check out the previous tag, restart), with the install the
# old code needs and a health check: how the benchmark puts a host back after the shell deploy, and
# the hand-run reference for cutover's time-to-recover. Same variables as seed-deploy.sh.
set -euo pipefail

ssh_() {
  ssh -F /dev/null -i "$SSH_KEY" -o IdentitiesOnly=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o ControlPath=none -p "$SSH_PORT" "root@$SSH_HOST" "$@"
}

echo "=== ROLLBACK to $TAG ==="
ssh_ "cd $APP && git -c advice.detachedHead=false checkout --quiet $TAG && bash install.sh && sudo systemctl restart $UNITS"
for i in $(seq 600); do
  curl -fsS -o /dev/null "$HEALTH_URL" 2>/dev/null && break
  [ "$i" = 600 ] && { echo "health never answered" >&2; exit 1; }
  sleep 0.1
done
echo "=== Rollback complete ==="

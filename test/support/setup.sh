#!/usr/bin/env bash
# What the tests need on this machine besides npm packages: OpenSSH's server (sandbox hosts),
# git, the PostgreSQL server and client (a cluster is started for the run), nginx and Prometheus
# (started by the signals tests on loopback; their own system services are never used). Installs what is
# missing with apt-get when it can (root on Debian); otherwise says what to install. Idempotent.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v git >/dev/null 2>&1 || need+=(git)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || need+=(postgresql-client)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/prometheus ] || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "test setup: the tests need ${need[*]}; install them (Debian: sudo apt-get install ${need[*]}) and run again" >&2
  exit 1
fi

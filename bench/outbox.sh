#!/usr/bin/env bash
# The outbox's end-to-end throughput against a plain online session (issue 18):
#   bench/outbox.sh [invoices]
# Runs ksef-store's outbox_throughput example (release) on SQLite, then on a private PostgreSQL
# server started here (initdb + pg_ctl in a temporary directory, a free loopback port; as
# `nobody` when run as root), stopped and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
cargo build --release -q -p ksef-store --features postgres --example outbox_throughput
BIN=target/release/examples/outbox_throughput
"$BIN" "$N" sqlite

PGBIN=$(dirname "$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ksef-outbox-bench.XXXXXX")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chmod o+rx "$WORK"; chown nobody "$WORK"; fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
as_pg "$PGBIN/initdb" -A trust -U ksef --no-sync -D "$WORK/data" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/data" -o "-h 127.0.0.1 -p $PORT -k $WORK/data" -l "$WORK/data/log" -w start >/dev/null
"$BIN" "$N" "postgres://ksef@127.0.0.1:$PORT/postgres"

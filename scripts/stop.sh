#!/usr/bin/env bash
# `make stop`: stops what `make run` started.
set -uo pipefail
cd "$(dirname "$0")/.."
state="$(pwd)/.local"
quiet=${1:-}
say() { [ "$quiet" = "--quiet" ] || echo "$@"; }

if [ -f "$state/run/nginx.pid" ] && kill -0 "$(cat "$state/run/nginx.pid")" 2>/dev/null; then
  say "==> stopping nginx"
  nginx -p "$state" -c "$state/nginx.conf" -s quit
  for _ in $(seq 1 50); do [ -f "$state/run/nginx.pid" ] || break; sleep 0.1; done
fi
if [ -f "$state/run/authd.pid" ]; then
  pid=$(cat "$state/run/authd.pid")
  if kill -0 "$pid" 2>/dev/null; then
    say "==> stopping spa-authd"
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$state/run/authd.pid"
fi
if [ -f "$state/run/mail.pid" ]; then
  kill "$(cat "$state/run/mail.pid")" 2>/dev/null && say "==> stopping the mail sink"
  rm -f "$state/run/mail.pid"
fi
if [ -f "$state/run/ws.pid" ]; then
  kill "$(cat "$state/run/ws.pid")" 2>/dev/null && say "==> stopping the demo WebSocket service"
  rm -f "$state/run/ws.pid"
fi
if [ -f "$state/run/oidc.pid" ]; then
  kill "$(cat "$state/run/oidc.pid")" 2>/dev/null && say "==> stopping the development OpenID provider"
  rm -f "$state/run/oidc.pid"
fi
if [ -f "$state/run/demo.pid" ]; then
  pid=$(cat "$state/run/demo.pid")
  if kill -0 "$pid" 2>/dev/null; then
    say "==> stopping the demo service"
    kill "$pid"
  fi
  rm -f "$state/run/demo.pid"
fi
say "==> stopped"

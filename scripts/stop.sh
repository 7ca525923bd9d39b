#!/usr/bin/env bash
# `make stop`: stops what `make run` started (in SPA_STATE, default .local/).
#   scripts/stop.sh [--quiet]
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
state=${SPA_STATE:-$(pwd)/.local}
nginx=${SPA_NGINX:-nginx}
quiet=${1:-}
say() { [ "$quiet" = "--quiet" ] || echo "$@"; }
# Running, and not a zombie waiting for its parent to collect it.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2> /dev/null) && [[ $stat != Z* ]]
}

# Ours: the process that run.sh started, not one that has its pid now (a
# pid file left from before a reboot, or another stack's): its start time
# (field 22 of /proc/PID/stat) is the one the pid file recorded, and its
# command line names WORD.
ours() {
  local pid=$1 at=$2 word=$3
  [ -n "$at" ] && [ "$(awk '{print $22}' "/proc/$pid/stat" 2> /dev/null)" = "$at" ] || return 1
  { tr '\0' ' ' < "/proc/$pid/cmdline"; echo; } 2> /dev/null | grep -qF -- "$word"
}
# Stops the process in STATE/run/NAME.pid (TERM, then KILL after 5 s) when
# it is ours.
stop_pid() {
  local name=$1 what=$2 word=$3 pid at
  [ -f "$state/run/$name.pid" ] || return 0
  read -r pid at < "$state/run/$name.pid"
  if [ -n "$pid" ] && alive "$pid" && ours "$pid" "${at:-}" "$word"; then
    say "==> stopping $what"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$state/run/$name.pid"
}

# The WebSocket service first: an open socket would keep a quitting nginx
# worker alive until it closes.
stop_pid ws "the demo WebSocket service" ws-service.mjs
# nginx writes its own pid file; its master's command line names this
# state's nginx.conf (the argument whole, not a prefix of another's).
nginx_ours() { { tr '\0' ' ' < "/proc/$1/cmdline"; echo " "; } 2> /dev/null | grep -qF -- "-c $state/nginx.conf "; }
if [ -f "$state/run/nginx.pid" ] && alive "$(cat "$state/run/nginx.pid")" && nginx_ours "$(cat "$state/run/nginx.pid")"; then
  say "==> stopping nginx"
  pid=$(cat "$state/run/nginx.pid")
  $nginx -p "$state" -c "$state/nginx.conf" -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null
  for _ in $(seq 1 30); do alive "$pid" || break; sleep 0.1; done
  # Still there (a long request): the fast shutdown closes every connection.
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$state/run/nginx.pid"
fi
stop_pid authd "spa-authd" "$state/authd.toml"
stop_pid mail "the mail sink" "$state/mail"
stop_pid oidc "the development OpenID provider" oidc-provider.mjs
stop_pid demo "the demo service" spa-demo-echo
say "==> stopped"

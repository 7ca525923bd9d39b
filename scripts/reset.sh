#!/usr/bin/env bash
# `make reset`: stops what `make run` started and removes its state
# (SPA_STATE, default .local/): the store with its users and sessions, the
# signing keys, the TLS certificate, the mail and the logs. The next
# `make run` starts from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
state=${SPA_STATE:-$(pwd)/.local}
if [ ! -d "$state" ]; then
  echo "==> nothing to remove: $state does not exist"
  exit 0
fi
state=$(cd -P "$state" && pwd -P)  # the real directory, not a link to it
case $state in
  / | "$HOME" | "$(pwd)") echo "reset: refusing to remove $state" >&2; exit 1 ;;
esac
# Only a directory `make run` made and that is yours: SPA_STATE=/some/dir
# by mistake removes nothing.
if [ ! -O "$state" ] || [ ! -f "$state/.spa-auth-state" ] || [ -L "$state/.spa-auth-state" ]; then
  echo "reset: $state is not a state directory of make run (no .spa-auth-state in it, or not yours); nothing removed" >&2
  exit 1
fi
SPA_STATE=$state scripts/stop.sh
what=()
[ ! -d "$state/authd" ] || what+=("the store and signing keys (authd/: users, sessions)")
[ ! -d "$state/tls" ] || what+=("the TLS certificate (tls/)")
[ ! -d "$state/mail" ] || what+=("$(find "$state/mail" -name '*.eml' | wc -l) mails (mail/)")
[ ! -d "$state/logs" ] || what+=("the logs (logs/)")
[ ! -f "$state/nginx.conf" ] || what+=("nginx.conf, authd.toml")
[ ! -f "$state/curl/cookies.txt" ] || what+=("the walk-through's cookies")
rm -rf "$state"
if [ ${#what[@]} -eq 0 ]; then
  echo "==> removed $state"
else
  summary=$(printf '%s, ' "${what[@]}")
  echo "==> removed $state: ${summary%, }"
fi

#!/usr/bin/env bash
# The token of the newest link to PAGE (verify-email, reset-password) mailed
# to ADDRESS by `make run`'s mail sink (MAILDIR/NNN.eml), waiting up to 10 s
# for it: spa-authd sends its mail in the background.
#   scripts/mail-link.sh MAILDIR ADDRESS PAGE
set -euo pipefail
dir=$1 address=$2 page=$3
for _ in $(seq 1 100); do
  token=""
  mapfile -t files < <(printf '%s\n' "$dir"/*.eml | sort -V)  # 1000.eml after 999.eml
  for ((i = ${#files[@]} - 1; i >= 0; i--)); do  # the newest (highest number) first
    f=${files[i]}
    [ -f "$f" ] || continue
    grep -qiF "RCPT TO:<$address>" "$f" || continue
    token=$(grep -o "$page#token=[A-Za-z0-9_-]*" "$f" | tail -1 | cut -d= -f2) || token=""
    [ -z "$token" ] || break
  done
  if [ -n "$token" ]; then echo "$token"; exit 0; fi
  sleep 0.1
done
echo "mail-link: no $page link to $address in $dir after 10 s" >&2
exit 1

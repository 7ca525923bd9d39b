#!/usr/bin/env bash
# make test-deb: spa-auth's packages as an operator meets them. Checks the
# .debs (ABI dependency, stripped binaries and their -dbgsym packages,
# shared-library dependencies), makes a fresh Debian 12 root with
# mmdebstrap from this machine's own apt sources, installs the packages
# there with apt (which pulls every dependency), and runs tests/deb/inside.sh
# in it: installed, serve (in a network namespace of its own), removed
# (after `apt remove`), purged (after `apt purge`). Needs root.
set -euo pipefail
cd "$(dirname "$0")/../.."
debs=$(realpath "${1:-build/deb}")
work=$(mktemp -d /tmp/spa-deb-XXXXXX)
root=$work/root
fails=0
check() {  # CONDITION DESCRIPTION
    if (set +o pipefail; eval "$1"); then echo "ok - packages: $2"; else echo "not ok - packages: $2"; fails=$((fails + 1)); fi
}
mounted=()
cleanup() {
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "test-deb: needs root (mmdebstrap, chroot)" >&2; exit 1; }
module_deb=$(ls "$debs"/libnginx-mod-http-spa-auth_*.deb)
authd_deb=$(ls "$debs"/spa-authd_*.deb)

# --- the packages themselves
abi=$(sed -n 's/^nginx:abi=//p' /usr/share/nginx/src/debian/libnginx-mod.abisubstvars)
check '[ -n "$abi" ] && dpkg-deb -f "$module_deb" Depends | tr "," "\n" | grep -qx " *$abi"' \
    "the module depends on $abi, the nginx ABI it was built against"
mkdir -p "$work/x/module" "$work/x/authd"
dpkg-deb -x "$module_deb" "$work/x/module"
dpkg-deb -x "$authd_deb" "$work/x/authd"
check '! readelf -S "$work/x/module/usr/lib/nginx/modules/ngx_http_spa_auth_module.so" | grep -q "\.debug_info"' "the module is stripped"
check '! readelf -S "$work/x/authd/usr/sbin/spa-authd" | grep -q "\.debug_info"' "spa-authd is stripped"
check '[ $(ls "$debs"/*-dbgsym_*.deb | wc -l) -eq 2 ]' "both have a -dbgsym package"
for lib in libargon2-1 liblmdb0 liboath0 libcurl4 libssl3 libqrencode4 libstdc++6; do
    check 'dpkg-deb -f "$authd_deb" Depends | grep -q "$lib"' "spa-authd's Depends (\${shlibs:Depends}) names $lib"
done
check 'readelf -d "$work/x/authd/usr/sbin/spa-authd" | grep -q "BIND_NOW"' "spa-authd is linked with -z now (hardening)"
check 'readelf -s --wide "$work/x/authd/usr/sbin/spa-authd" | grep -q "__memcpy_chk\|__snprintf_chk\|__fprintf_chk"' \
    "spa-authd uses fortified functions (_FORTIFY_SOURCE)"
check '[ -z "$(man --warnings -l "$work/x/authd/usr/share/man/man8/spa-authd.8.gz" 2>&1 >/dev/null)" ]' \
    "the man page renders without warnings"
for word in --check-config "keys rotate" "users set-role" --version /etc/spa-authd/mfa.key mdb_copy; do
    check 'man -l "$work/x/authd/usr/share/man/man8/spa-authd.8.gz" 2>/dev/null | col -b | grep -qF -- "$word"' "spa-authd(8) names $word"
done

# --- a fresh Debian 12 root, from this machine's apt sources
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && grep -q '^[^#]' "$f" && sources+=("$f")
done
echo "==> mmdebstrap: a Debian 12 root in $root (sources: ${sources[*]})"
# ssl-cert and lmdb-utils: what docs/install.md has the operator install.
# Check-Valid-Until/Date: a mirror that serves a snapshot of the archive
# has Release files past their Valid-Until (this machine's apt says the same).
mmdebstrap --quiet --variant=apt --include=ca-certificates,curl,ssl-cert,lmdb-utils \
    --aptopt='Acquire::Check-Valid-Until "false"' --aptopt='Acquire::Check-Date "false"' \
    bookworm "$root" "${sources[@]}" > "$work/mmdebstrap.log" 2>&1 || { cat "$work/mmdebstrap.log"; exit 1; }
for m in dev dev/pts proc sys; do
    mkdir -p "$root/$m"
    if [ "$m" = proc ]; then mount -t proc proc "$root/proc"; else mount --bind "/$m" "$root/$m"; fi
    mounted+=("$root/$m")
done
# As in any chroot: no package starts a service here (invoke-rc.d asks policy-rc.d).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d" && chmod +x "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/tmp/spa-deb"
cp "$module_deb" "$authd_deb" tests/deb/inside.sh "$root/tmp/spa-deb/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 "$@"; }
phase() {  # NAME [unshare]: inside.sh's checks; a failed one counts
    local out rc=0
    out=$("${@:2}" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 bash /tmp/spa-deb/inside.sh "$1" 2>"$work/$1.err") || rc=$?
    echo "$out"
    local n
    n=$(grep -c '^not ok' <<< "$out" || true)
    if [ "$rc" -ne 0 ] || [ "$n" -ne 0 ]; then
        fails=$((fails + (n > 0 ? n : 1)))
        echo "--- $1: stderr"; tail -20 "$work/$1.err"
        for f in authd.log check.log nginx-t.log; do [ -f "$root/tmp/$f" ] && { echo "--- $f"; tail -20 "$root/tmp/$f"; }; done
        [ -f "$root/var/log/nginx/error.log" ] && { echo "--- nginx error.log"; tail -20 "$root/var/log/nginx/error.log"; }
    fi
}

in_root apt-get update -q > "$work/apt.log" 2>&1 || { cat "$work/apt.log"; exit 1; }
echo "==> a login user named spa-authd already there: the installation refuses to take it over"
in_root useradd --create-home --shell /bin/bash spa-authd
check '! in_root apt-get install -y -q "/tmp/spa-deb/$(basename "$authd_deb")" >> "$work/apt.log" 2>&1' \
    "apt install fails rather than give a login user spa-authd's secrets"
check 'grep -q "not a system user" "$work/apt.log"' "because adduser said it is not a system user"
check '[ ! -e "$root/etc/spa-authd/mfa.key" ]' "and no MFA key was made for it"
in_root userdel --remove spa-authd 2>/dev/null
echo "==> a system group spa-authd that is another user's primary group: refused too"
in_root groupadd --system spa-authd
in_root useradd --system --gid spa-authd mallory
check '! in_root apt-get install -y -q "/tmp/spa-deb/$(basename "$authd_deb")" >> "$work/apt.log" 2>&1 && grep -q "mallory has the group spa-authd as primary group" "$work/apt.log"' \
    "apt install fails when another user has the group as its primary group"
in_root userdel mallory
in_root userdel spa-authd 2>/dev/null || true
in_root groupdel spa-authd 2>/dev/null || true
in_root dpkg --purge spa-authd >> "$work/apt.log" 2>&1 || true
echo "==> apt install ./$(basename "$module_deb") ./$(basename "$authd_deb") in the fresh root"
in_root apt-get install -y -q "/tmp/spa-deb/$(basename "$module_deb")" "/tmp/spa-deb/$(basename "$authd_deb")" \
    >> "$work/apt.log" 2>&1 || { tail -40 "$work/apt.log"; exit 1; }
check 'grep -q "Setting up nginx " "$work/apt.log"' "apt pulled nginx in by itself"
phase installed
phase serve unshare --net --fork
echo "==> apt reinstall: the configuration and the MFA key survive an upgrade"
key_before=$(sha256sum < "$root/etc/spa-authd/mfa.key")
in_root apt-get install -y -q --reinstall "/tmp/spa-deb/$(basename "$authd_deb")" >> "$work/apt.log" 2>&1
check '[ "$(sha256sum < "$root/etc/spa-authd/mfa.key")" = "$key_before" ]' "the MFA key is kept across a reinstall"
check 'grep -q "^require_verified_email = false" "$root/etc/spa-authd/authd.toml"' "an edited authd.toml is kept"
echo "==> apt remove"
in_root apt-get remove -y -q libnginx-mod-http-spa-auth spa-authd >> "$work/apt.log" 2>&1
phase removed
echo "==> apt purge"
in_root apt-get purge -y -q libnginx-mod-http-spa-auth spa-authd >> "$work/apt.log" 2>&1
phase purged

if [ "$fails" -ne 0 ]; then
    echo "test-deb: $fails check(s) failed"
    exit 1
fi
echo "==> test-deb: every check passed"

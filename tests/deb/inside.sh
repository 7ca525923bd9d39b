#!/bin/bash
# Runs inside the fresh Debian root that tests/deb/test-deb.sh made, as
# root: one phase per call (installed, serve, removed, purged). Prints
# "ok - ..." / "not ok - ..." lines; exits 1 when any check failed.
set -uo pipefail
phase=$1
fails=0
check() {  # CONDITION DESCRIPTION
    if (set +o pipefail; eval "$1"); then echo "ok - $phase: $2"; else echo "not ok - $phase: $2"; fails=$((fails + 1)); fi
}
site=app.example.com
api() {  # METHOD PATH [JSON]: status and body in $status, $body; the cookie jar kept
    local out
    out=$(curl -sk --resolve "$site:443:127.0.0.1" -b /tmp/jar -c /tmp/jar -X "$1" \
        -H "Origin: https://$site" -H 'Content-Type: application/json' ${3:+-d "$3"} \
        -w '\n%{http_code}' "https://$site$2")
    status=${out##*$'\n'}
    body=${out%$'\n'*}
}
examples=/usr/share/doc/libnginx-mod-http-spa-auth/examples

case $phase in
installed)
    version=$(dpkg-query -W -f='${Version}' spa-authd)
    check '[ -f /usr/lib/nginx/modules/ngx_http_spa_auth_module.so ]' "the module is in /usr/lib/nginx/modules/"
    check 'grep -qx "load_module modules/ngx_http_spa_auth_module.so;" /usr/share/nginx/modules-available/mod-http-spa-auth.conf' \
        "modules-available/mod-http-spa-auth.conf loads it"
    check '[ "$(readlink /etc/nginx/modules-enabled/50-mod-http-spa-auth.conf)" = /usr/share/nginx/modules-available/mod-http-spa-auth.conf ]' \
        "enabled in /etc/nginx/modules-enabled/ as Debian's modules are"
    check 'nginx -t 2>/dev/null' "Debian's stock nginx.conf with the module loaded passes nginx -t"
    check 'nginx -T 2>/dev/null | grep -q "load_module modules/ngx_http_spa_auth_module.so"' "nginx -T shows the load_module line"
    check '[ "$(spa-authd --version | head -1)" = "spa-authd $version" ]' "spa-authd --version says $version"
    check 'getent passwd spa-authd | grep -q ":/var/lib/spa-authd:/usr/sbin/nologin$"' "system user spa-authd, no login shell"
    check '[ "$(id -u spa-authd)" -lt 1000 ]' "spa-authd is a system uid"
    check 'id -nG www-data | tr " " "\n" | grep -qx spa-authd' "nginx's user www-data is in group spa-authd"
    check '[ "$(stat -c "%U:%G %a %s" /etc/spa-authd/mfa.key)" = "spa-authd:spa-authd 400 32" ]' \
        "the MFA key: 32 bytes, 0400, spa-authd's"
    check '[ "$(stat -c "%U:%G %a" /var/lib/spa-authd)" = "spa-authd:spa-authd 750" ]' "/var/lib/spa-authd: spa-authd's, 0750"
    check 'dpkg-query -W -f="\${Conffiles}" spa-authd | grep -q "/etc/spa-authd/authd.toml"' "authd.toml is a conffile"
    check '[ "$(stat -c "%U:%G %a" /etc/spa-authd/authd.toml)" = "root:spa-authd 640" ] && dpkg-statoverride --list /etc/spa-authd/authd.toml >/dev/null' \
        "authd.toml is root's, 0640, group spa-authd (dpkg-statoverride)"
    check '[ "$(getent group spa-authd | cut -d: -f3)" -lt 1000 ] && [ "$(getent group spa-authd | cut -d: -f4)" = www-data ]' \
        "spa-authd is a system group whose only member is www-data"
    check 'grep -q "^SystemCallFilter=setpriority" /lib/systemd/system/spa-authd.service' "the unit lets the Argon2 workers lower their priority"
    check '[ -f /lib/systemd/system/spa-authd.service ]' "the systemd unit is installed"
    check '[ -L /etc/systemd/system/multi-user.target.wants/spa-authd.service ]' "and enabled (dh_installsystemd)"
    check 'grep -q "^Documentation=.*file:///usr/share/doc/spa-authd/README.md" /lib/systemd/system/spa-authd.service && [ -f /usr/share/doc/spa-authd/README.md ]' \
        "the unit's Documentation= names a README that exists"
    check '[ -f /usr/share/man/man8/spa-authd.8.gz ]' "the man page spa-authd(8)"
    check '[ -f $examples/sites-available/spa-auth ] && [ -f $examples/snippets/spa-authd-proxy.conf ]' "the example site and snippets"
    ;;
serve)
    # A network of its own (unshare -n): ports 80 and 443 are this root's.
    ip link set lo up
    # What an operator does (docs/install.md): the example site and its
    # snippets, Debian's self-signed certificate (ssl-cert) for now.
    cp $examples/sites-available/spa-auth /etc/nginx/sites-available/
    cp $examples/snippets/*.conf /etc/nginx/snippets/
    ln -sf ../sites-available/spa-auth /etc/nginx/sites-enabled/spa-auth
    rm -f /etc/nginx/sites-enabled/default
    mkdir -p /var/www/app && echo '<!doctype html><title>app</title>' > /var/www/app/index.html
    # The one change this test makes to the packaged authd.toml: no mail
    # server here to confirm addresses with.
    sed -i 's/^require_verified_email = true/require_verified_email = false/' /etc/spa-authd/authd.toml
    # systemd's part of the unit, done by hand (no systemd runs here):
    # RuntimeDirectory=, UMask=, User=, then ExecStartPre= and ExecStart=.
    unit=/lib/systemd/system/spa-authd.service
    install -d -o spa-authd -g spa-authd -m 0750 /run/spa-authd
    pre=$(sed -n 's/^ExecStartPre=//p' $unit)
    start=$(sed -n 's/^ExecStart=//p' $unit)
    as_unit="setpriv --reuid=spa-authd --regid=spa-authd --init-groups --"
    check "(umask 0027; $as_unit $pre) >/tmp/check.log 2>&1" "the unit's ExecStartPre (--check-config) passes as spa-authd"
    (umask 0027; exec $as_unit $start) >/tmp/authd.log 2>&1 &
    authd=$!
    for _ in $(seq 100); do [ -S /run/spa-authd/authd.sock ] && [ -f /var/lib/spa-authd/jwks.json ] && break; sleep 0.1; done
    check '[ -S /run/spa-authd/authd.sock ]' "spa-authd started as its user with the packaged config"
    check '[ "$(stat -c %U /proc/$authd)" = spa-authd ] && [ "$(readlink /proc/$authd/exe)" = /usr/sbin/spa-authd ]' "and runs as spa-authd"
    check '! spa-authd keys rotate --config /etc/spa-authd/authd.toml 2>/tmp/rotate.log && grep -q "run this as spa-authd" /tmp/rotate.log' \
        "keys rotate as root refuses to write into spa-authd's directories"
    check "$as_unit spa-authd keys rotate --config /etc/spa-authd/authd.toml >/dev/null" "keys rotate as spa-authd publishes a key"
    check 'nginx -t 2>/tmp/nginx-t.log' "stock nginx.conf + the example site pass nginx -t"
    cat /tmp/nginx-t.log >&2
    version=$(dpkg-query -W -f='${Version}' libnginx-mod-http-spa-auth)
    check 'nginx -t -g "error_log stderr notice;" 2>&1 | grep -q "\[notice\] .*spa_auth module $version loaded (OpenSSL "' \
        "nginx logs the module's version at start (notice)"
    nginx
    for _ in $(seq 50); do [ -s /run/nginx.pid ] && break; sleep 0.1; done
    api POST /api/v1/auth/signup '{"email":"first@example.com","username":"first","password":"a long enough password"}'
    check '[ "$status" = 201 ] || [ "$status" = 200 ]' "sign-up through nginx ($status)"
    api POST /api/v1/auth/login '{"email":"first@example.com","password":"a long enough password"}'
    check '[ "$status" = 200 ] && grep -q "__Host-spa_at" /tmp/jar' "login through nginx sets the access cookie ($status)"
    check '! curl -sk --resolve other.example:443:127.0.0.1 -o /dev/null https://other.example/' \
        "another name gets no TLS handshake on 443 (ssl_reject_handshake)"
    check '[ "$(curl -s -o /dev/null -w "%{http_code}" --resolve other.example:80:127.0.0.1 http://other.example/)" = 000 ]' \
        "nor an answer on 80 (444)"
    check '[ "$(curl -sk -o /dev/null -w "%{http_code}" --resolve $site:443:127.0.0.1 -H "Host: other.example" https://$site/)" = 000 ]' \
        "the site's name in SNI and another in Host: no answer either"
    check '[ "$(curl -s -o /dev/null -w "%{redirect_url}" --resolve $site:80:127.0.0.1 -H "Host: $site" "http://$site/x")" = "https://$site/x" ]' \
        "port 80 of the site redirects to its https:// address"
    api GET /api/v1/auth/me
    check '[ "$status" = 200 ] && [[ $body == *first@example.com* ]]' "/api/v1/auth/me knows the user"
    api GET /api/orders
    check '[ "$status" = 502 ]' "the app's API location lets the session through to its (absent) upstream: 502"
    api POST /api/v1/auth/logout
    check '[ "$status" = 200 ]' "logout ($status)"
    api GET /api/orders
    check '[ "$status" = 401 ]' "after logout the module refuses the old cookie: 401"
    api GET /api/orders
    check '[[ $body == *\"success\":false* ]]' "as the JSON envelope"
    # What nginx's user can read: the sessions mirror, and nothing else of the store.
    check 'runuser -u www-data -- mdb_stat -a /var/lib/spa-authd >/tmp/mirror.stat 2>&1 && [ "$(grep "^Status of" /tmp/mirror.stat | sort | tr "\n" ,)" = "Status of Main DB,Status of mirror,Status of sessions," ]' \
        "www-data reads the mirror, and it holds the sessions table alone, and its sequence (mdb_stat -a)"
    check '! runuser -u www-data -- mdb_dump -a -p /var/lib/spa-authd | grep -q first@example.com' "the mirror holds no e-mail address"
    check '! runuser -u www-data -- cat /var/lib/spa-authd/private/data.mdb >/dev/null 2>&1 && [ "$(stat -c "%U %a" /var/lib/spa-authd/private)" = "spa-authd 700" ]' \
        "www-data cannot read the store (private/ is spa-authd's, 0700)"
    check 'grep -q first@example.com /var/lib/spa-authd/private/data.mdb' "(the store does hold the address, so the check above can fail)"
    # Backup and restore exactly as docs/install.md says (its sh blocks),
    # then the same user logs in against the restored store and keys.
    kid_before=$(grep -o '"kid": *"[^"]*"' /var/lib/spa-authd/jwks.json | sort | tr -d '\n')
    check "(umask 077; D=/tmp/backup; install -d -m 0700 \$D;
            runuser -u spa-authd -- mdb_copy -c /var/lib/spa-authd/private > \$D/data.mdb &&
            runuser -u spa-authd -- tar -C /var/lib/spa-authd -cf - keys > \$D/keys.tar &&
            cp /etc/spa-authd/mfa.key \$D/)" "backup as install.md says, while spa-authd runs"
    kill $authd; wait $authd
    rm -rf /var/lib/spa-authd/private /var/lib/spa-authd/data.mdb /var/lib/spa-authd/keys /etc/spa-authd/mfa.key
    check "(D=/tmp/backup;
            install -o spa-authd -g spa-authd -m 0400 \$D/mfa.key /etc/spa-authd/mfa.key &&
            runuser -u spa-authd -- sh -c 'rm -rf /var/lib/spa-authd/keys && tar -C /var/lib/spa-authd -xpf -' < \$D/keys.tar &&
            runuser -u spa-authd -- sh -c 'umask 077 && mkdir -p /var/lib/spa-authd/private &&
              cat > /var/lib/spa-authd/private/data.mdb.new &&
              mv -f /var/lib/spa-authd/private/data.mdb.new /var/lib/spa-authd/private/data.mdb' < \$D/data.mdb)" \
        "restore as install.md says, after the store, keys and MFA key were lost"
    check '[ "$(stat -c "%U %a" /var/lib/spa-authd/private)" = "spa-authd 700" ] && [ "$(stat -c "%U %a" /var/lib/spa-authd/private/data.mdb)" = "spa-authd 600" ] && [ "$(stat -c "%U %a" /var/lib/spa-authd/keys)" = "spa-authd 700" ]' \
        "the restored store and keys are spa-authd's, 0700/0600 and 0700"
    (umask 0027; exec $as_unit $start) >>/tmp/authd.log 2>&1 &
    authd=$!
    for _ in $(seq 100); do [ -S /run/spa-authd/authd.sock ] && break; sleep 0.1; done
    rm -f /tmp/jar
    api POST /api/v1/auth/login '{"email":"first@example.com","password":"a long enough password"}'
    check '[ "$status" = 200 ]' "the user logs in against the restored store ($status)"
    # The mirror was lost too and made afresh: workers reopen a replaced
    # file within a second (docs/authd.md, "Readers, restores and damaged files").
    for _ in $(seq 50); do api GET /api/orders; [ "$status" = 502 ] && break; sleep 0.1; done
    check '[ "$status" = 502 ]' "and nginx passes the new session: the mirror was made from the restored store ($status)"
    check '[ "$(grep -o "\"kid\": *\"[^\"]*\"" /var/lib/spa-authd/jwks.json | sort | tr -d "\n")" = "$kid_before" ]' \
        "and the restored keys are the ones published"
    nginx -s quit
    kill $authd; wait $authd
    ;;
removed)
    check '[ ! -e /usr/sbin/spa-authd ] && [ ! -e /usr/lib/nginx/modules/ngx_http_spa_auth_module.so ]' "the programs are gone"
    check '[ ! -e /etc/nginx/modules-enabled/50-mod-http-spa-auth.conf ]' "the module is no longer enabled"
    check '[ -f /etc/spa-authd/authd.toml ] && [ -f /etc/spa-authd/mfa.key ] && [ -f /var/lib/spa-authd/data.mdb ]' \
        "configuration, MFA key and store are kept"
    rm -f /etc/nginx/sites-enabled/spa-auth
    ln -sf ../sites-available/default /etc/nginx/sites-enabled/default
    check 'nginx -t 2>/dev/null' "without the site, nginx -t passes without the module"
    ;;
purged)
    check '[ ! -e /etc/spa-authd ]' "/etc/spa-authd is gone"
    check '[ ! -e /var/lib/spa-authd ]' "the store, keys and JWKS are gone"
    check '! ls /etc/nginx/modules-enabled/ | grep -q spa-auth' "no trace in modules-enabled"
    check 'getent passwd spa-authd >/dev/null' "the system user stays (Debian policy)"
    check '! id -nG www-data | tr " " "\n" | grep -qx spa-authd' "www-data left the group"
    check '[ -z "$(dpkg-query -W -f="\${db:Status-Abbrev}" spa-authd libnginx-mod-http-spa-auth 2>/dev/null | tr -d " un")" ]' \
        "dpkg knows neither package"
    check 'nginx -t 2>/dev/null' "nginx -t still passes"
    ;;
esac
exit $((fails > 0))

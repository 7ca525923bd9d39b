# spa_auth_limit_zone / spa_auth_limit / spa_auth_status: bad configuration
# fails `nginx -t` naming the value and the line; the headers of a first
# request.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== a zone and a location using it: RateLimit headers on an allowed response
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=login:1m rate=5/15m;
--- config
location /t { spa_auth_limit zone=login; }
--- error_code: 200
--- response_headers
RateLimit-Policy: "login";q=5;w=900
RateLimit: "login";r=4;t=180
--- response_body
ok

=== rate with a unit nginx's limit_req cannot express: 3 per hour
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=reset:64k rate=3/1h;
--- config
location /t { spa_auth_limit zone=reset; }
--- error_code: 200
--- response_headers
RateLimit-Policy: "reset";q=3;w=3600
RateLimit: "reset";r=2;t=1200

=== invalid rate: unknown unit
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=5/15x;
--- must_die
--- error_log
spa_auth_limit_zone: invalid rate "rate=5/15x": expected N/PERIOD, N from 1 to 1000000 and PERIOD from 1s to 1d, like rate=5/15m in
nginx.conf:17

=== invalid rate: no number
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=/1m;
--- must_die
--- error_log
invalid rate "rate=/1m"

=== invalid rate: period longer than a day
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=1/2d;
--- must_die
--- error_log
invalid rate "rate=1/2d"

=== invalid rate: zero
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=0/1m;
--- must_die
--- error_log
invalid rate "rate=0/1m"

=== zone too small
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:8k rate=1/1m;
--- must_die
--- error_log
spa_auth_limit_zone "a": invalid size "8k" (at least 32k)

=== zone without a size
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a rate=1/1m;
--- must_die
--- error_log
spa_auth_limit_zone needs zone=NAME:SIZE and rate=N/PERIOD

=== unknown parameter
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m burst=5;
--- must_die
--- error_log
invalid parameter "burst=5" in "spa_auth_limit_zone"

=== the same zone twice
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=1/1m;
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=2/1m;
--- must_die
--- error_log
spa_auth_limit_zone "a" is already defined

=== spa_auth_limit_zone outside http
--- config
location /t { spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=1/1m; }
--- must_die
--- error_log
"spa_auth_limit_zone" directive is not allowed here

=== a location naming a zone that does not exist
--- config
location /t { spa_auth_limit zone=nope; }
--- must_die
--- error_log
spa_auth_limit in
nginx.conf:22: no spa_auth_limit_zone named "nope"

=== the same zone twice in one location
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=1/1m;
--- config
location /t { spa_auth_limit zone=a; spa_auth_limit zone=a; }
--- must_die
--- error_log
"spa_auth_limit" directive is duplicate

=== spa_auth_limit with a stray parameter
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=1/1m;
--- config
location /t { spa_auth_limit zone=a nodelay; }
--- must_die
--- error_log
invalid parameter "nodelay" in "spa_auth_limit"

=== dry_run: no headers (nothing is enforced)
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=a:1m rate=1/1m;
--- config
location /t { spa_auth_limit zone=a dry_run; }
--- error_code: 200
--- response_headers
!RateLimit
!RateLimit-Policy

=== an empty key is not limited
--- http_config
spa_auth_limit_zone $http_x_nothing zone=a:1m rate=1/1m;
--- config
location /t { spa_auth_limit zone=a; }
--- error_code: 200
--- response_headers
!RateLimit

=== spa_auth_status answers Prometheus text
--- http_config
spa_auth_limit_zone $binary_remote_addr zone=login:1m rate=5/15m;
--- config
location /metrics { spa_auth_status; }
--- request
GET /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like
spa_auth_limit_requests_total\{zone="login",result="limited"\} 0\n.*spa_auth_limit_capacity\{zone="login"\} 78[0-9]{2}\n

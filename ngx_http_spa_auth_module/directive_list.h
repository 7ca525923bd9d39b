// Every directive of the module, once: its name, the levels it may appear
// at with its arguments, its handler and where its conf lives. Included
// twice, so no #pragma once: directives.cpp makes nginx's ngx_command_t
// table of it, and tests/unit/test_module_docs.cc the list of names
// docs/module.md must describe (the macro drops the nginx words), so a
// directive cannot be added without its documentation.
//
// SPA_DIRECTIVE(name, levels | arguments, handler, conf offset)
SPA_DIRECTIVE("spa_auth", kAnyLevel | NGX_CONF_TAKE1, set_mode, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_jwks_file", kAnyLevel | NGX_CONF_TAKE1, set_jwks_file, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_hmac_secret_file", kAnyLevel | NGX_CONF_TAKE1, set_hmac_secret_file, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_algorithms", kAnyLevel | NGX_CONF_1MORE, set_algorithms, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_issuer", kAnyLevel | NGX_CONF_TAKE1, set_issuer, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_audience", kAnyLevel | NGX_CONF_1MORE, set_audience, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_leeway", kAnyLevel | NGX_CONF_TAKE1, set_leeway, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_token", kAnyLevel | NGX_CONF_1MORE, set_token_sources, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_require", kAnyLevel | NGX_CONF_2MORE, add_requirement, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_require_mfa", kAnyLevel | NGX_CONF_TAKE1, set_require_mfa, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_claim_header", kAnyLevel | NGX_CONF_TAKE2, add_claim_header, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_identity_prefix", kAnyLevel | NGX_CONF_TAKE1, set_identity_prefix, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_max_age", kAnyLevel | NGX_CONF_TAKE1, set_max_age, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_csrf_origin", kAnyLevel | NGX_CONF_1MORE, set_csrf_origin, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_pass_token", kAnyLevel | NGX_CONF_TAKE1, set_pass_token, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_session_store", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_session_store, 0)
SPA_DIRECTIVE("spa_auth_cache_size", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, set_cache_size, 0)
SPA_DIRECTIVE("spa_auth_limit_zone", NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE3, add_limit_zone, 0)
SPA_DIRECTIVE("spa_auth_limit", kAnyLevel | NGX_CONF_TAKE12, add_limit, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_status", NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, set_status, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_websocket", kAnyLevel | NGX_CONF_TAKE1, set_websocket, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_websocket_origin", kAnyLevel | NGX_CONF_1MORE, set_websocket_origins, NGX_HTTP_LOC_CONF_OFFSET)
SPA_DIRECTIVE("spa_auth_websocket_recheck", kAnyLevel | NGX_CONF_TAKE1, set_websocket_recheck, NGX_HTTP_LOC_CONF_OFFSET)

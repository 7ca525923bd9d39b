// What the directive handlers share (directives.cpp, directives_limit.cpp):
// reading the arguments, nginx's own refusal messages, and the handlers the
// table in directives.cpp names from the other file.
#pragma once

#include "ngx_http_spa_auth_module/spa_auth.h"

#include <string>

namespace spa::ngx::directives {

inline char* const kConfOk = NGX_CONF_OK;
inline char* const kConfError = static_cast<char*>(NGX_CONF_ERROR);

inline LocSettings& loc(void* conf) { return *static_cast<LocConf*>(conf)->s; }

inline ngx_str_t* args(ngx_conf_t* cf) { return static_cast<ngx_str_t*>(cf->args->elts); }

inline std::string arg(ngx_conf_t* cf, ngx_uint_t i) { return std::string(to_view(args(cf)[i])); }

// nginx's wording: `"spa_auth_x" directive is duplicate`.
inline char* duplicate() { return const_cast<char*>("is duplicate"); }

inline char* invalid(ngx_conf_t* cf, ngx_uint_t i) {
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\" in \"%V\"", &args(cf)[i], &args(cf)[0]);
  return kConfError;
}

// directives_limit.cpp
char* add_limit_zone(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);  // spa_auth_limit_zone
char* add_limit(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);       // spa_auth_limit
char* set_status(ngx_conf_t* cf, ngx_command_t* cmd, void* conf);      // spa_auth_status

}  // namespace spa::ngx::directives

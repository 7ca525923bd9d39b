// The rate-limit directives: spa_auth_limit_zone (a zone of nginx shared
// memory, as limit_req_zone) and spa_auth_limit (a zone applied to a
// location); and spa_auth_status, the location that reports the zones.
#include "ngx_http_spa_auth_module/directives.h"

#include <algorithm>
#include <string>

#include "core/module_defaults.h"
#include "core/names.h"
#include "core/rate_fields.h"

namespace spa::ngx::directives {
namespace {

// The key is one variable ($binary_remote_addr, ${spa_auth_sub}): its
// name, to read it by index without building a string per request; else "".
std::string_view single_variable(std::string_view key) {
  std::string_view var;
  if (key.size() > 3 && key.substr(0, 2) == "${" && key.back() == '}') var = key.substr(2, key.size() - 3);
  else if (key.size() > 1 && key[0] == '$') var = key.substr(1);
  return core::valid_name(var, core::NameKind::kVariable) ? var : std::string_view{};
}

// KEY: any complex value; one that reads the token's variables is checked
// after the access phase, the others before it.
bool compile_key(ngx_conf_t* cf, LimitZone& zone) {
  zone.key_text = arg(cf, 1);
  zone.after_auth = zone.key_text.find("$spa_auth_") != std::string::npos ||
                    zone.key_text.find("${spa_auth_") != std::string::npos;
  zone.key = static_cast<ngx_http_complex_value_t*>(ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t)));
  if (zone.key == nullptr) return false;
  ngx_http_compile_complex_value_t ccv;
  ngx_memzero(&ccv, sizeof ccv);
  ccv.cf = cf;
  ccv.value = &args(cf)[1];
  ccv.complex_value = zone.key;
  if (ngx_http_compile_complex_value(&ccv) != NGX_OK) return false;
  std::string_view var = single_variable(zone.key_text);
  if (!var.empty()) {
    ngx_str_t name{var.size(), text_data(var)};
    zone.key_index = ngx_http_get_variable_index(cf, &name);
    if (zone.key_index == NGX_ERROR) return false;
  }
  return true;
}

}  // namespace

// spa_auth_limit_zone KEY zone=NAME:SIZE rate=N/PERIOD;
char* add_limit_zone(ngx_conf_t* cf, ngx_command_t*, void*) {
  auto zone = std::make_unique<LimitZone>();
  std::string size_text;
  bool have_rate = false;
  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
    std::string a = arg(cf, i);
    if (a.rfind("zone=", 0) == 0) {
      size_t colon = a.find(':');
      zone->name = a.substr(5, colon == std::string::npos ? std::string::npos : colon - 5);
      size_text = colon == std::string::npos ? "" : a.substr(colon + 1);
      if (!core::valid_name(zone->name, core::NameKind::kZone)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "spa_auth_limit_zone: invalid zone name in \"%V\" (letters, digits, '_', '-')", &args(cf)[i]);
        return kConfError;
      }
    } else if (a.rfind("rate=", 0) == 0) {
      auto rate = core::parse_rate(a.substr(5));
      if (!rate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "spa_auth_limit_zone: invalid rate \"%V\": expected N/PERIOD, N from 1 to 1000000 and "
                           "PERIOD from 1s to 1d, like rate=5/15m",
                           &args(cf)[i]);
        return kConfError;
      }
      zone->rate = *rate;
      have_rate = true;
    } else {
      return invalid(cf, i);
    }
  }
  if (zone->name.empty() || size_text.empty() || !have_rate) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone needs zone=NAME:SIZE and rate=N/PERIOD");
    return kConfError;
  }
  ngx_str_t size_str{size_text.size(), reinterpret_cast<u_char*>(size_text.data())};
  ssize_t size = ngx_parse_size(&size_str);
  size_t min_size = core::module_defaults::kMinLimitZonePages * ngx_pagesize;
  if (size == NGX_ERROR || size < static_cast<ssize_t>(min_size)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone \"%s\": invalid size \"%s\" (at least %uzk)",
                       zone->name.c_str(), size_text.c_str(), min_size / 1024);
    return kConfError;
  }
  MainSettings& main = main_settings(cf);
  for (const auto& z : main.limit_zones)
    if (z->name == zone->name) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone \"%s\" is already defined", zone->name.c_str());
      return kConfError;
    }
  if (!compile_key(cf, *zone)) return kConfError;

  ngx_str_t shm_name{zone->name.size(), static_cast<u_char*>(ngx_pstrdup(cf->pool, &args(cf)[2]))};
  if (shm_name.data == nullptr) return kConfError;
  shm_name.data += 5;  // past "zone=", in a copy that lives with the cycle
  zone->shm = ngx_shared_memory_add(cf, &shm_name, static_cast<size_t>(size), &ngx_http_spa_auth_module);
  if (zone->shm == nullptr) return kConfError;
  if (zone->shm->data != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone \"%s\": a shared memory zone of that name exists",
                       zone->name.c_str());
    return kConfError;
  }
  zone->policy = core::rate_limit_policy(zone->name, zone->rate);
  zone->shm->init = init_limit_zone;
  zone->shm->data = zone.get();
  main.limit_zones.push_back(std::move(zone));
  return kConfOk;
}

// spa_auth_limit zone=NAME [dry_run];
char* add_limit(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (!s.limits) s.limits.emplace();
  LimitUse use;
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    std::string a = arg(cf, i);
    if (a.rfind("zone=", 0) == 0 && a.size() > 5) use.zone_name = a.substr(5);
    else if (a == "dry_run") use.dry_run = true;
    else return invalid(cf, i);
  }
  if (use.zone_name.empty()) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit needs zone=NAME");
    return kConfError;
  }
  for (const auto& other : *s.limits)
    if (other.zone_name == use.zone_name) return duplicate();
  use.where = std::string(to_view(cf->conf_file->file.name)) + ":" + std::to_string(cf->conf_file->line);
  s.limits->push_back(std::move(use));
  return kConfOk;
}

// spa_auth_status;
char* set_status(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.status_handler) return duplicate();
  s.status_handler = true;
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  clcf->handler = status_handler;
  return kConfOk;
}

}  // namespace spa::ngx::directives

// The module object: the one symbol this shared object exports.
#include "ngx_http_spa_auth_module/spa_auth.h"

namespace {

ngx_http_module_t module_ctx = {
    spa::ngx::add_variables,     // preconfiguration
    spa::ngx::postconfiguration, // postconfiguration
    spa::ngx::create_main_conf,  // create main configuration
    nullptr,                     // init main configuration
    nullptr,                     // create server configuration
    nullptr,                     // merge server configuration
    spa::ngx::create_loc_conf,   // create location configuration
    spa::ngx::merge_loc_conf,    // merge location configuration
};

}  // namespace

extern "C" {

__attribute__((visibility("default"))) ngx_module_t ngx_http_spa_auth_module = {
    NGX_MODULE_V1,
    &module_ctx,
    spa::ngx::directives::commands,
    NGX_HTTP_MODULE,
    nullptr,                   // init master
    spa::ngx::init_module,     // init module
    spa::ngx::init_worker,     // init process
    nullptr,                   // init thread
    nullptr,                   // exit thread
    spa::ngx::exit_worker,     // exit process
    nullptr,                   // exit master
    NGX_MODULE_V1_PADDING};

}

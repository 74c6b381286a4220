/* Shared helpers of the overlayd_sys addon: the one place overlayd makes syscalls Node lacks.
 * Every function takes plain numbers and caller-owned buffers; nothing here allocates per packet. */
#ifndef OVERLAYD_ADDON_H
#define OVERLAYD_ADDON_H
#include "args.h"
#include <node_api.h>
#include <stdint.h>

/* Throws a JS Error with .code = errno name and .errno = number; returns NULL for the caller to return. */
napi_value ovl_throw_errno(napi_env env, const char *what, int err);
napi_value ovl_i32(napi_env env, int32_t v);

napi_value ovl_sd_notify(napi_env env, napi_callback_info info);
void ovl_register_notify(napi_env env, napi_value exports);
void ovl_register_io(napi_env env, napi_value exports);
void ovl_register_mmsg(napi_env env, napi_value exports);
void ovl_register_sockets(napi_env env, napi_value exports);
void ovl_register_csum(napi_env env, napi_value exports);
void ovl_register_steering(napi_env env, napi_value exports);
void ovl_register_sg_io(napi_env env, napi_value exports);
void ovl_register_aead(napi_env env, napi_value exports);
#endif

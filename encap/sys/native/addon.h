/* Shared helpers of the overlayd_sys addon: the one place overlayd makes syscalls Node lacks.
 * Every function takes plain numbers and caller-owned buffers; nothing here allocates per packet. */
#ifndef OVERLAYD_ADDON_H
#define OVERLAYD_ADDON_H
#include <node_api.h>
#include <stdint.h>

/* Throws a JS Error with .code = errno name and .errno = number; returns NULL for the caller to return. */
napi_value ovl_throw_errno(napi_env env, const char *what, int err);
int ovl_get_i32(napi_env env, napi_value v, int32_t *out);
int ovl_get_u32(napi_env env, napi_value v, uint32_t *out);
napi_value ovl_i32(napi_env env, int32_t v);
/* Reads a Buffer/TypedArray argument's data pointer and length. */
int ovl_get_bytes(napi_env env, napi_value v, void **data, size_t *len);

napi_value ovl_sd_notify(napi_env env, napi_callback_info info);
void ovl_register_notify(napi_env env, napi_value exports);
void ovl_register_io(napi_env env, napi_value exports);
void ovl_register_sockets(napi_env env, napi_value exports);
void ovl_register_csum(napi_env env, napi_value exports);
void ovl_register_steering(napi_env env, napi_value exports);
void ovl_register_sg_io(napi_env env, napi_value exports);
#endif

/* Module entry and errno errors for overlayd_sys (argument checking is in args.c). */
#include "addon.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *errno_name(int err) {
  switch (err) {
  case EPERM: return "EPERM";
  case ENOENT: return "ENOENT";
  case EINTR: return "EINTR";
  case EIO: return "EIO";
  case EBADF: return "EBADF";
  case EAGAIN: return "EAGAIN";
  case ENOMEM: return "ENOMEM";
  case EACCES: return "EACCES";
  case EBUSY: return "EBUSY";
  case EEXIST: return "EEXIST";
  case ENODEV: return "ENODEV";
  case EINVAL: return "EINVAL";
  case EMSGSIZE: return "EMSGSIZE";
  case ENOPROTOOPT: return "ENOPROTOOPT";
  case EOPNOTSUPP: return "EOPNOTSUPP";
  case EADDRINUSE: return "EADDRINUSE";
  case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  case ENETUNREACH: return "ENETUNREACH";
  case ECONNREFUSED: return "ECONNREFUSED";
  case EHOSTUNREACH: return "EHOSTUNREACH";
  case ENOBUFS: return "ENOBUFS";
  case ESRCH: return "ESRCH";
  case ENXIO: return "ENXIO";
  case ENOTTY: return "ENOTTY";
  case ENOTSOCK: return "ENOTSOCK";
  case EAFNOSUPPORT: return "EAFNOSUPPORT";
  case EDESTADDRREQ: return "EDESTADDRREQ";
  case ETIMEDOUT: return "ETIMEDOUT";
  case EFAULT: return "EFAULT";
  default: return "EUNKNOWN";
  }
}

napi_value ovl_throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, num;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
  return NULL;
}

napi_value ovl_i32(napi_env env, int32_t v) {
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static napi_value init(napi_env env, napi_value exports) {
  ovl_register_notify(env, exports);
  ovl_register_io(env, exports);
  ovl_register_mmsg(env, exports);
  ovl_register_sockets(env, exports);
  ovl_register_csum(env, exports);
  ovl_register_steering(env, exports);
  ovl_register_sg_io(env, exports);
  ovl_register_aead(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

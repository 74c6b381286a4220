/* Argument checking shared by every function of the addon (see args.h for the contract). */
#define _GNU_SOURCE
#include "args.h"
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int ovl_args_get(napi_env env, napi_callback_info info, const char *fn, size_t n, ovl_args *a) {
  a->env = env;
  a->fn = fn;
  /* A function that declares more arguments than argv holds would read past it: refuse the call. */
  if (n > OVL_MAX_ARGS) return ovl_type_error(a, "takes %zu arguments, more than OVL_MAX_ARGS (%d)", n, OVL_MAX_ARGS);
  size_t argc = n;
  /* napi fills argv[argc_given..argc) with undefined: a missing argument fails its type check. */
  return napi_get_cb_info(env, info, &argc, a->argv, NULL, NULL) == napi_ok;
}

static int throw_fmt(ovl_args *a, int range, const char *fmt, va_list ap) {
  char msg[256];
  int k = snprintf(msg, sizeof msg, "%s: ", a->fn);
  if (k < 0 || (size_t)k >= sizeof msg) k = 0;
  vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
  bool pending = false;
  napi_is_exception_pending(a->env, &pending);
  if (!pending) (range ? napi_throw_range_error : napi_throw_type_error)(a->env, NULL, msg);
  return 0;
}

int ovl_range_error(ovl_args *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_fmt(a, 1, fmt, ap);
  va_end(ap);
  return 0;
}

int ovl_type_error(ovl_args *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  throw_fmt(a, 0, fmt, ap);
  va_end(ap);
  return 0;
}

static const char *kind_name(napi_typedarray_type k) {
  switch (k) {
  case napi_int8_array: return "an Int8Array";
  case napi_uint8_array: return "a Uint8Array";
  case napi_uint8_clamped_array: return "a Uint8ClampedArray";
  case napi_int16_array: return "an Int16Array";
  case napi_uint16_array: return "a Uint16Array";
  case napi_int32_array: return "an Int32Array";
  case napi_uint32_array: return "a Uint32Array";
  case napi_float32_array: return "a Float32Array";
  case napi_float64_array: return "a Float64Array";
  case napi_bigint64_array: return "a BigInt64Array";
  case napi_biguint64_array: return "a BigUint64Array";
  default: return "a typed array";
  }
}

static const char *type_name(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "unknown";
  switch (t) {
  case napi_undefined: return "undefined";
  case napi_null: return "null";
  case napi_boolean: return "boolean";
  case napi_number: return "number";
  case napi_string: return "string";
  case napi_symbol: return "symbol";
  case napi_bigint: return "bigint";
  case napi_function: return "function";
  default: break;
  }
  bool is = false;
  napi_typedarray_type k;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is && napi_get_typedarray_info(env, v, &k, NULL, NULL, NULL, NULL) == napi_ok)
    return kind_name(k);
  if (napi_is_dataview(env, v, &is) == napi_ok && is) return "a DataView";
  if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) return "an ArrayBuffer";
  if (napi_is_array(env, v, &is) == napi_ok && is) return "an Array";
  return "object";
}

int ovl_arg_int(ovl_args *a, size_t i, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  double d;
  if (napi_typeof(a->env, a->argv[i], &t) != napi_ok || t != napi_number ||
      napi_get_value_double(a->env, a->argv[i], &d) != napi_ok)
    return ovl_type_error(a, "%s must be a number, got %s", name, type_name(a->env, a->argv[i]));
  /* Compare as doubles first: casting NaN, Infinity or 1e300 to int64 is undefined behaviour. */
  if (!(d >= (double)min && d <= (double)max) || d != floor(d))
    return isnan(d) ? ovl_range_error(a, "%s must be an integer in %lld..%lld, got NaN", name, (long long)min, (long long)max)
                    : ovl_range_error(a, "%s must be an integer in %lld..%lld, got %.17g", name, (long long)min, (long long)max, d);
  *out = (int64_t)d;
  return 1;
}

int ovl_arg_i32(ovl_args *a, size_t i, const char *name, int32_t min, int32_t max, int32_t *out) {
  int64_t v;
  if (!ovl_arg_int(a, i, name, min, max, &v)) return 0;
  *out = (int32_t)v;
  return 1;
}

int ovl_arg_u32(ovl_args *a, size_t i, const char *name, uint32_t *out) {
  int64_t v;
  if (!ovl_arg_int(a, i, name, 0, UINT32_MAX, &v)) return 0;
  *out = (uint32_t)v;
  return 1;
}

int ovl_arg_fd(ovl_args *a, size_t i, const char *name, int *out) {
  int32_t v;
  if (!ovl_arg_i32(a, i, name, 0, INT32_MAX, &v)) return 0;
  *out = v;
  return 1;
}

int ovl_arg_bool(ovl_args *a, size_t i, const char *name, bool optional, bool *out) {
  napi_valuetype t;
  if (napi_typeof(a->env, a->argv[i], &t) != napi_ok) return ovl_type_error(a, "%s must be a boolean", name);
  if (t == napi_undefined && optional) {
    *out = false;
    return 1;
  }
  if (t != napi_boolean || napi_get_value_bool(a->env, a->argv[i], out) != napi_ok)
    return ovl_type_error(a, "%s must be a boolean, got %s", name, type_name(a->env, a->argv[i]));
  return 1;
}

int ovl_arg_typed(ovl_args *a, size_t i, const char *name, napi_typedarray_type kind, void **data, size_t *n) {
  bool is = false;
  napi_typedarray_type t;
  size_t len, off;
  napi_value ab;
  void *p = NULL;
  if (napi_is_typedarray(a->env, a->argv[i], &is) != napi_ok || !is ||
      napi_get_typedarray_info(a->env, a->argv[i], &t, &len, &p, &ab, &off) != napi_ok || t != kind)
    return ovl_type_error(a, "%s must be %s, got %s", name, kind_name(kind), type_name(a->env, a->argv[i]));
  /* A detached buffer has no memory: treat it as empty so no caller dereferences NULL. */
  *data = p;
  *n = p ? len : 0;
  return 1;
}

int ovl_arg_string(ovl_args *a, size_t i, const char *name, size_t min, char *buf, size_t cap, size_t *len) {
  napi_valuetype t;
  size_t need = 0;
  if (napi_typeof(a->env, a->argv[i], &t) != napi_ok || t != napi_string ||
      napi_get_value_string_utf8(a->env, a->argv[i], NULL, 0, &need) != napi_ok)
    return ovl_type_error(a, "%s must be a string, got %s", name, type_name(a->env, a->argv[i]));
  /* Measured first: napi would otherwise truncate silently to the buffer. */
  if (need < min || need >= cap)
    return ovl_range_error(a, "%s must be %zu..%zu bytes of UTF-8, got %zu", name, min, cap - 1, need);
  return napi_get_value_string_utf8(a->env, a->argv[i], buf, cap, len) == napi_ok ||
         ovl_type_error(a, "%s must be a string", name);
}

int ovl_arg_batch(ovl_args *a, size_t i, ovl_batch *b) {
  void *s, *o, *l;
  size_t sn, on, ln;
  if (!ovl_arg_typed(a, i, "slab", napi_uint8_array, &s, &sn) || !ovl_arg_typed(a, i + 1, "offs", napi_int32_array, &o, &on) ||
      !ovl_arg_typed(a, i + 2, "lens", napi_int32_array, &l, &ln))
    return 0;
  b->slab = s;
  b->slab_len = sn;
  b->offs = o;
  b->lens = l;
  b->n = on < ln ? on : ln;
  return 1;
}

int64_t ovl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ovl_wait_in(int fd, int32_t timeout_ms) {
  if (timeout_ms < 0) return 1;
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  return ovl_poll_until(&pfd, 1, ovl_now_ms() + timeout_ms);
}

int ovl_poll_until(void *pfds, unsigned n, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - ovl_now_ms();
    int r = poll((struct pollfd *)pfds, n, left > 0 ? (int)left : 0);
    if (r >= 0 || errno != EINTR) return r;
  }
}

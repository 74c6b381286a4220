/* Argument checking for every function of the addon: one place that turns a JS value into a C
 * value or throws. A wrong type is a TypeError, a value out of range a RangeError, each message
 * naming the function and the argument ("sendBatch: count must be 0..64, got -1"), so a bad call
 * is an exception in JS and never a size_t that wrapped around in C.
 * Each getter returns 1 on success; on failure it has thrown and returns 0: the caller returns NULL. */
#ifndef OVERLAYD_ARGS_H
#define OVERLAYD_ARGS_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* The most arguments any function takes (sendvBatch: 11); asking for more is refused. */
#define OVL_MAX_ARGS 12
/* The longest wait any call accepts: the daemon waits 5 s at most, a minute is a caller's bug. */
#define OVL_MAX_TIMEOUT_MS 60000

typedef struct {
  napi_env env;
  const char *fn; /* the JS name, first word of every message */
  napi_value argv[OVL_MAX_ARGS];
} ovl_args;

/* Reads up to n (<= OVL_MAX_ARGS) arguments; missing ones are undefined. */
int ovl_args_get(napi_env env, napi_callback_info info, const char *fn, size_t n, ovl_args *a);

/* Throws "fn: <message>" as a RangeError / TypeError; returns 0. */
int ovl_range_error(ovl_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ovl_type_error(ovl_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An integer number in min..max: NaN, ±Infinity and fractions are RangeErrors too. */
int ovl_arg_int(ovl_args *a, size_t i, const char *name, int64_t min, int64_t max, int64_t *out);
int ovl_arg_i32(ovl_args *a, size_t i, const char *name, int32_t min, int32_t max, int32_t *out);
int ovl_arg_u32(ovl_args *a, size_t i, const char *name, uint32_t *out);
/* A file descriptor: 0..INT32_MAX (whether it is open is the syscall's to say). */
int ovl_arg_fd(ovl_args *a, size_t i, const char *name, int *out);
/* A boolean; `optional`: undefined gives false. */
int ovl_arg_bool(ovl_args *a, size_t i, const char *name, bool optional, bool *out);
/* A typed array of exactly `kind` (a Buffer is a Uint8Array); n = its length in elements. */
int ovl_arg_typed(ovl_args *a, size_t i, const char *name, napi_typedarray_type kind, void **data, size_t *n);
/* A string of min..cap-1 UTF-8 bytes, copied NUL-terminated into buf[cap]. */
int ovl_arg_string(ovl_args *a, size_t i, const char *name, size_t min, char *buf, size_t cap, size_t *len);

/* The (slab, offs, lens) triple of every batch call: packet i is slab[offs[i] .. offs[i] + lens[i]). */
typedef struct {
  uint8_t *slab;
  size_t slab_len;
  int32_t *offs;
  int32_t *lens;
  size_t n; /* the shorter of offs and lens */
} ovl_batch;

/* argv[i] = slab (Uint8Array), argv[i+1] = offs, argv[i+2] = lens (Int32Arrays). */
int ovl_arg_batch(ovl_args *a, size_t i, ovl_batch *b);

/* 1 when [off, off + len) lies inside the slab. off is checked first so that off + len is never
 * computed: on int32 values cast to size_t that sum wraps and lets a negative offset through. */
static inline int ovl_in_slab(const ovl_batch *b, int32_t off, int32_t len) {
  return off >= 0 && len >= 0 && (size_t)off <= b->slab_len && (size_t)len <= b->slab_len - (size_t)off;
}

/* The smaller of two sizes as an int32 (a bound for ovl_arg_i32). */
static inline int32_t ovl_min_i32(size_t a, size_t b) {
  size_t m = a < b ? a : b;
  return m > INT32_MAX ? INT32_MAX : (int32_t)m;
}

/* Waits up to timeout_ms for fd to be readable; timeout_ms < 0: no wait, reports readable.
 * Returns > 0 readable, 0 timed out, < 0 error (errno set). */
int ovl_wait_in(int fd, int32_t timeout_ms);

/* Monotonic milliseconds, for the deadlines of the retry loops. */
int64_t ovl_now_ms(void);
/* poll() until an event or the deadline (ovl_now_ms() based), EINTR retried with the time left.
 * Returns poll's result: > 0 events, 0 deadline passed, < 0 error (errno set). */
int ovl_poll_until(void *pfds, unsigned n, int64_t deadline_ms);
#endif

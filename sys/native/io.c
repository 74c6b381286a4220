/* Batch I/O on the TUN fd, and the poll and close every datapath fd needs. Each batch call moves
 * packets between the kernel and caller-owned slots of a JS slab (a SharedArrayBuffer), described
 * by offset and length arrays: no allocation, no copy beyond the kernel's own. The UDP side
 * (recvmmsg/sendmmsg) is in mmsg.c.
 *   readBatch     TUN → slots   (poll for the first packet, then drain without blocking)
 *   writeBatch    slots → TUN   (one write per packet: a TUN has no writev of many packets)
 *   waitReadable  one poll for a worker that serves both the TUN and the UDP socket
 * Every slot is checked against the slab before the first syscall, and each offset is read from
 * the (shared, writable by JS) arrays once: the value checked is the value used.
 */
#define _GNU_SOURCE
#include "addon.h"
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#define MAX_READ 256
/* How long writeBatch keeps retrying a TUN that says EAGAIN, for the whole batch: past it the
 * rest is refused (counted in errs) instead of holding the worker, and so close(), hostage. */
#define WRITE_DEADLINE_MS 50

/* readBatch(fd, slab, offs, lens, count, cap, timeoutMs) → packets read (0 on timeout), at most
 * min(count, 256). timeoutMs -1: no poll (the caller has just polled). */
static napi_value read_batch(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  ovl_batch b;
  int32_t count, cap, timeout;
  if (!ovl_args_get(env, info, "readBatch", 7, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_batch(&a, 1, &b) ||
      !ovl_arg_i32(&a, 4, "count", 0, ovl_min_i32(b.n, INT32_MAX), &count) ||
      !ovl_arg_i32(&a, 5, "cap", 1, ovl_min_i32(b.slab_len, INT32_MAX), &cap) ||
      !ovl_arg_i32(&a, 6, "timeoutMs", -1, OVL_MAX_TIMEOUT_MS, &timeout))
    return NULL;
  if (count > MAX_READ) count = MAX_READ; /* "up to count": the rest is read by the next call */
  int32_t off[MAX_READ];
  for (int i = 0; i < count; i++) {
    off[i] = b.offs[i];
    if (!ovl_in_slab(&b, off[i], cap))
      return ovl_range_error(&a, "offs[%d] = %d: a slot of cap %d bytes must lie inside the %zu-byte slab", i, off[i], cap, b.slab_len),
             NULL;
  }
  int r = ovl_wait_in(fd, timeout);
  if (r < 0) return ovl_throw_errno(env, "readBatch poll", errno);
  if (r == 0) return ovl_i32(env, 0);
  int n = 0;
  while (n < count) {
    ssize_t got = read(fd, b.slab + off[n], (size_t)cap);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break;
      return ovl_throw_errno(env, "readBatch read", errno);
    }
    b.lens[n++] = (int32_t)got;
  }
  return ovl_i32(env, n);
}

/* writeBatch(fd, slab, offs, lens, count, errs: Int32Array[2]) → packets written.
 * A packet the kernel refuses is skipped; errs[0] counts them and errs[1] keeps the last errno
 * (ETIMEDOUT: the TUN stayed full past the batch's deadline). */
static napi_value write_batch(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  ovl_batch b;
  int32_t count;
  void *ep;
  size_t en;
  if (!ovl_args_get(env, info, "writeBatch", 6, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_batch(&a, 1, &b) ||
      !ovl_arg_i32(&a, 4, "count", 0, ovl_min_i32(b.n, INT32_MAX), &count) ||
      !ovl_arg_typed(&a, 5, "errs", napi_int32_array, &ep, &en))
    return NULL;
  if (en < 2) return ovl_range_error(&a, "errs must hold 2 counters, got %zu", en), NULL;
  for (int i = 0; i < count; i++) {
    int32_t off = b.offs[i], len = b.lens[i];
    if (!ovl_in_slab(&b, off, len))
      return ovl_range_error(&a, "packet %d (offs %d, lens %d) must lie inside the %zu-byte slab", i, off, len, b.slab_len), NULL;
  }
  int32_t *errs = ep;
  int64_t deadline = ovl_now_ms() + WRITE_DEADLINE_MS;
  int written = 0, late = 0;
  for (int i = 0; i < count; i++) {
    /* Read again (JS may have changed the arrays since the check) and check again before use. */
    int32_t off = b.offs[i], len = b.lens[i];
    if (!ovl_in_slab(&b, off, len)) {
      errs[0]++;
      errs[1] = EINVAL;
      continue;
    }
    for (;;) {
      ssize_t w = write(fd, b.slab + off, (size_t)len);
      if (w >= 0) {
        written++;
        break;
      }
      int err = errno;
      if (err == EINTR) continue;
      if ((err == EAGAIN || err == EWOULDBLOCK) && !late) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        if (ovl_poll_until(&pfd, 1, deadline) > 0) continue;
        late = 1; /* from here on a full TUN refuses at once */
        err = ETIMEDOUT;
      } else if (err == EAGAIN || err == EWOULDBLOCK) {
        err = ETIMEDOUT;
      }
      errs[0]++;
      errs[1] = err;
      break;
    }
  }
  return ovl_i32(env, written);
}

/* waitReadable(fdA, fdB, timeoutMs) → bit 0: fdA readable, bit 1: fdB readable; 0 on timeout.
 * A closed fd reports readable (POLLNVAL): the read that follows says EBADF. */
static napi_value wait_readable(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fa, fb;
  int32_t timeout;
  if (!ovl_args_get(env, info, "waitReadable", 3, &a) || !ovl_arg_fd(&a, 0, "fdA", &fa) || !ovl_arg_fd(&a, 1, "fdB", &fb) ||
      !ovl_arg_i32(&a, 2, "timeoutMs", 0, OVL_MAX_TIMEOUT_MS, &timeout))
    return NULL;
  struct pollfd pfd[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
  int r = ovl_poll_until(pfd, 2, ovl_now_ms() + timeout);
  if (r < 0) return ovl_throw_errno(env, "waitReadable poll", errno);
  int mask = 0;
  if (r > 0 && pfd[0].revents) mask |= 1;
  if (r > 0 && pfd[1].revents) mask |= 2;
  return ovl_i32(env, mask);
}

/* close(fd). */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  if (!ovl_args_get(env, info, "close", 1, &a) || !ovl_arg_fd(&a, 0, "fd", &fd)) return NULL;
  if (close(fd) < 0) return ovl_throw_errno(env, "close", errno);
  return NULL;
}

void ovl_register_io(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readBatch", NULL, read_batch, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"waitReadable", NULL, wait_readable, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

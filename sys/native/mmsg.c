/* Batch I/O on the UDP socket, for the datapath workers: one syscall moves many datagrams between
 * the kernel and caller-owned slots of a JS slab (see io.c for the TUN side).
 *   recvBatch   UDP → slots   (recvmmsg, with the UDP_GRO segment size per message)
 *   sendBatch   slots → UDP   (sendmmsg, with a UDP_SEGMENT size per message when GSO is used)
 * Every slot, port and segment size is checked before the first syscall and read from the (shared,
 * writable by JS) arrays once; sendBatch's retries on a full socket end at a deadline.
 */
#define _GNU_SOURCE
#include "addon.h"
#include "sockaddr.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Messages per recvmmsg/sendmmsg: the headers live on the stack. */
#define MAX_BATCH 256
/* How long one sendBatch waits, in all, for a socket that says EAGAIN/ENOBUFS: past it the call
 * returns what it sent (or -ETIMEDOUT) so a full socket cannot hold a worker, nor close(). Long
 * enough to ride out a busy machine's scheduling delays (back-pressure, not loss, is what TCP
 * inside wants); short enough that a worker, which looks at its stop flag every 16 steps, still stops within
 * about a second (16 x 50 ms; a partial send can add a second wait to a step). */
#define SEND_DEADLINE_MS 50

/* recvBatch(fd, slab, offs, lens, count, cap, addrs: Uint32Array, ports: Int32Array, gso: Int32Array, timeoutMs)
 * → datagrams received (0 on timeout), at most min(count, 256). lens[i] = cap + 1 marks a truncated
 * (oversized) datagram; addrs are host-order IPv4 (recvBatch6: four words each, sockaddr.h); gso[i] is the UDP_GRO segment size (0 when not
 * coalesced). timeoutMs -1: no poll (the caller has just polled). */
static napi_value recv_batch_af(napi_env env, napi_callback_info info, const char *fn, int family) {
  ovl_args a;
  const size_t w = family == AF_INET6 ? 4 : 1; /* addrs words per message */
  int fd;
  ovl_batch b;
  int32_t count, cap, timeout;
  void *ap, *pp, *gp;
  size_t an, pn, gn;
  if (!ovl_args_get(env, info, fn, 10, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_batch(&a, 1, &b) ||
      !ovl_arg_i32(&a, 4, "count", 0, ovl_min_i32(b.n, INT32_MAX), &count) ||
      /* cap + 1 (the truncation mark) must fit an int32 */
      !ovl_arg_i32(&a, 5, "cap", 1, ovl_min_i32(b.slab_len, INT32_MAX - 1), &cap) ||
      !ovl_arg_typed(&a, 6, "addrs", napi_uint32_array, &ap, &an) || !ovl_arg_typed(&a, 7, "ports", napi_int32_array, &pp, &pn) ||
      !ovl_arg_typed(&a, 8, "gso", napi_int32_array, &gp, &gn) ||
      !ovl_arg_i32(&a, 9, "timeoutMs", -1, OVL_MAX_TIMEOUT_MS, &timeout))
    return NULL;
  if (an / w < (size_t)count || pn < (size_t)count || gn < (size_t)count)
    return ovl_range_error(&a, "addrs (%zu words each), ports and gso must hold count = %d messages, got %zu, %zu, %zu", w, count, an, pn,
                           gn),
           NULL;
  if (count > MAX_BATCH) count = MAX_BATCH; /* "up to count": the rest is received by the next call */
  uint32_t *addrs = ap;
  int32_t *ports = pp, *gso = gp;

  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  ovl_sockaddr from[MAX_BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctrl[MAX_BATCH];
  memset(msgs, 0, sizeof(msgs[0]) * (size_t)count);
  for (int i = 0; i < count; i++) {
    int32_t off = b.offs[i];
    if (!ovl_in_slab(&b, off, cap))
      return ovl_range_error(&a, "offs[%d] = %d: a slot of cap %d bytes must lie inside the %zu-byte slab", i, off, cap, b.slab_len),
             NULL;
    iov[i].iov_base = b.slab + off;
    iov[i].iov_len = (size_t)cap;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_control = ctrl[i].buf;
    msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
  }
  if (count == 0) return ovl_i32(env, 0);
  int r = ovl_wait_in(fd, timeout);
  if (r < 0) return ovl_throw_errno(env, "recvBatch poll", errno);
  if (r == 0) return ovl_i32(env, 0);
  int n;
  do {
    n = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ovl_i32(env, 0);
    return ovl_throw_errno(env, "recvBatch recvmmsg", errno);
  }
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &msgs[i].msg_hdr;
    b.lens[i] = (h->msg_flags & MSG_TRUNC) ? cap + 1 : (int32_t)msgs[i].msg_len;
    ports[i] = ovl_sockaddr_get(&from[i], h->msg_namelen, family, addrs + (size_t)i * w);
    gso[i] = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int v;
        memcpy(&v, CMSG_DATA(c), sizeof v);
        gso[i] = v;
      }
    }
  }
  return ovl_i32(env, n);
}

typedef struct {
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  ovl_sockaddr to[MAX_BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrl[MAX_BATCH];
} send_chunk;

typedef struct {
  const ovl_batch *b;
  const uint32_t *addrs;
  const int32_t *ports, *gso;
  int family; /* AF_INET: one addrs word per message; AF_INET6: four */
} send_arrays;

/* Message i is sendable: inside the slab, port and segment size 16-bit. */
static int msg_ok(const send_arrays *s, int32_t off, int32_t len, int32_t port, int32_t seg) {
  return ovl_in_slab(s->b, off, len) && port >= 0 && port <= 65535 && seg >= 0 && seg <= 65535;
}

/* Fills c with messages first .. first+n-1; 0 when one changed since it was checked. */
static int fill_chunk(send_chunk *c, const send_arrays *s, size_t first, int n) {
  memset(c->msgs, 0, sizeof(c->msgs[0]) * (size_t)n);
  for (int k = 0; k < n; k++) {
    size_t i = first + (size_t)k;
    int32_t off = s->b->offs[i], len = s->b->lens[i], port = s->ports[i], seg = s->gso[i];
    if (!msg_ok(s, off, len, port, seg)) return 0;
    c->iov[k].iov_base = s->b->slab + off;
    c->iov[k].iov_len = (size_t)len;
    struct msghdr *h = &c->msgs[k].msg_hdr;
    h->msg_iov = &c->iov[k];
    h->msg_iovlen = 1;
    h->msg_name = &c->to[k];
    h->msg_namelen = ovl_sockaddr_set(&c->to[k], s->family, s->addrs + i * (s->family == AF_INET6 ? 4 : 1), (uint16_t)port);
    if (seg > 0) {
      memset(c->ctrl[k].buf, 0, sizeof c->ctrl[k].buf);
      h->msg_control = c->ctrl[k].buf;
      h->msg_controllen = sizeof c->ctrl[k].buf;
      struct cmsghdr *cm = CMSG_FIRSTHDR(h);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t v = (uint16_t)seg;
      memcpy(CMSG_DATA(cm), &v, sizeof v);
    }
  }
  return 1;
}

/* Sends c's n messages, waiting for room until the deadline; returns how many went out and sets
 * *err to the errno that stopped it (0: all sent, ETIMEDOUT: still full at the deadline). */
static int send_chunk_until(int fd, send_chunk *c, int n, int64_t deadline, int *err) {
  int done = 0;
  *err = 0;
  while (done < n) {
    int r = sendmmsg(fd, c->msgs + done, (unsigned)(n - done), 0);
    if (r > 0) {
      done += r;
      continue;
    }
    int e = r == 0 ? EIO : errno;
    if (e == EINTR) continue;
    if (e != EAGAIN && e != EWOULDBLOCK && e != ENOBUFS) {
      *err = e;
      break;
    }
    if (ovl_now_ms() >= deadline) {
      *err = ETIMEDOUT;
      break;
    }
    if (e == ENOBUFS) {
      /* The device queue, not our socket, is full: poll would say writable at once. */
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, NULL);
    } else {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (ovl_poll_until(&pfd, 1, deadline) < 0) {
        *err = errno;
        break;
      }
    }
  }
  return done;
}

/* sendBatch(fd, slab, offs, lens, start, count, addrs, ports, gso) → messages sent, or -errno when
 * the first message fails (EIO from UDP GSO means: turn GSO off; ETIMEDOUT: the socket stayed full
 * for SEND_DEADLINE_MS). Sends messages start .. start+count-1 of the arrays (an index, so the
 * caller allocates no subarrays), in sendmmsg calls of up to 256. gso[i] > 0 adds a UDP_SEGMENT
 * cmsg so the kernel cuts message i into datagrams of that size. */
static napi_value send_batch_af(napi_env env, napi_callback_info info, const char *fn, int family) {
  ovl_args a;
  const size_t w = family == AF_INET6 ? 4 : 1;
  int fd;
  ovl_batch b;
  int32_t start, count;
  void *ap, *pp, *gp;
  size_t an, pn, gn;
  if (!ovl_args_get(env, info, fn, 9, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_batch(&a, 1, &b) ||
      !ovl_arg_typed(&a, 6, "addrs", napi_uint32_array, &ap, &an) || !ovl_arg_typed(&a, 7, "ports", napi_int32_array, &pp, &pn) ||
      !ovl_arg_typed(&a, 8, "gso", napi_int32_array, &gp, &gn))
    return NULL;
  size_t lim = b.n;
  if (an / w < lim) lim = an / w;
  if (pn < lim) lim = pn;
  if (gn < lim) lim = gn;
  if (!ovl_arg_i32(&a, 4, "start", 0, ovl_min_i32(lim, INT32_MAX), &start) ||
      !ovl_arg_i32(&a, 5, "count", 0, ovl_min_i32(lim - (size_t)start, INT32_MAX), &count))
    return NULL;
  send_arrays s = {.b = &b, .addrs = ap, .ports = pp, .gso = gp, .family = family};
  for (int k = 0; k < count; k++) {
    size_t i = (size_t)start + (size_t)k;
    int32_t off = b.offs[i], len = b.lens[i], port = s.ports[i], seg = s.gso[i];
    if (!msg_ok(&s, off, len, port, seg))
      return ovl_range_error(&a, "message %zu (offs %d, lens %d, port %d, gso %d) must lie inside the %zu-byte slab, port and gso 0..65535",
                             i, off, len, port, seg, b.slab_len),
             NULL;
  }
  send_chunk chunk;
  int64_t deadline = ovl_now_ms() + SEND_DEADLINE_MS;
  int sent = 0, err = 0;
  while (sent < count && err == 0) {
    int n = count - sent < MAX_BATCH ? count - sent : MAX_BATCH;
    if (!fill_chunk(&chunk, &s, (size_t)start + (size_t)sent, n)) {
      err = EINVAL; /* JS rewrote the arrays during the call */
      break;
    }
    sent += send_chunk_until(fd, &chunk, n, deadline, &err);
  }
  if (sent == 0 && err != 0) return ovl_i32(env, -err);
  /* Later failures: report what went out; the caller counts the rest as dropped. */
  return ovl_i32(env, sent);
}

static napi_value recv_batch(napi_env env, napi_callback_info info) { return recv_batch_af(env, info, "recvBatch", AF_INET); }
static napi_value send_batch(napi_env env, napi_callback_info info) { return send_batch_af(env, info, "sendBatch", AF_INET); }
/* recvBatch6 / sendBatch6: the same on an AF_INET6 socket (udpOpen6); addrs hold four host-order
 * words per message, the address's bytes 0-3 first (so fd00::1 is 0xfd000000, 0, 0, 1). */
static napi_value recv_batch6(napi_env env, napi_callback_info info) { return recv_batch_af(env, info, "recvBatch6", AF_INET6); }
static napi_value send_batch6(napi_env env, napi_callback_info info) { return send_batch_af(env, info, "sendBatch6", AF_INET6); }

void ovl_register_mmsg(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"recvBatch", NULL, recv_batch, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"recvBatch6", NULL, recv_batch6, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch6", NULL, send_batch6, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

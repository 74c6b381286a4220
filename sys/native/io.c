/* Batch I/O on file descriptors, for the datapath workers. Each call moves a whole batch between
 * the kernel and caller-owned slots of a JS slab (a SharedArrayBuffer), described by offset and
 * length arrays: no allocation, no copy beyond the kernel's own.
 *   readBatch   TUN → slots   (poll for the first packet, then drain without blocking)
 *   writeBatch  slots → TUN   (one write per packet: a TUN has no writev of many packets)
 *   recvBatch   UDP → slots   (recvmmsg, with the UDP_GRO segment size per message)
 *   sendBatch   slots → UDP   (sendmmsg, with a UDP_SEGMENT size per message when GSO is used)
 */
#define _GNU_SOURCE
#include "addon.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

#define MAX_BATCH 256

typedef struct {
  uint8_t *slab;
  size_t slab_len;
  int32_t *offs;
  int32_t *lens;
  size_t n_arr;
} batch_args;

/* Reads slab, offsets and lengths arguments at argv[i..i+2]. */
static int get_batch(napi_env env, napi_value *argv, batch_args *b) {
  void *p;
  size_t len;
  if (!ovl_get_bytes(env, argv[0], &p, &len)) return 0;
  b->slab = p;
  b->slab_len = len;
  size_t ol, ll;
  if (!ovl_get_bytes(env, argv[1], &p, &ol)) return 0;
  b->offs = p;
  if (!ovl_get_bytes(env, argv[2], &p, &ll)) return 0;
  b->lens = p;
  b->n_arr = (ol < ll ? ol : ll) / 4;
  return 1;
}

static int wait_fd(int fd, short events, int timeout_ms) {
  struct pollfd pfd = {.fd = fd, .events = events};
  int r;
  do {
    r = poll(&pfd, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r;
}

/* readBatch(fd, slab, offs, lens, count, cap, timeoutMs) → packets read (0 on timeout). */
static napi_value read_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, count, cap, timeout;
  batch_args b;
  if (argc < 7 || !ovl_get_i32(env, argv[0], &fd) || !get_batch(env, argv + 1, &b) || !ovl_get_i32(env, argv[4], &count) ||
      !ovl_get_i32(env, argv[5], &cap) || !ovl_get_i32(env, argv[6], &timeout)) {
    napi_throw_type_error(env, NULL, "readBatch(fd, slab, offs, lens, count, cap, timeoutMs)");
    return NULL;
  }
  if (count > (int32_t)b.n_arr) count = (int32_t)b.n_arr;
  /* timeout < 0: the caller has just polled (or only wants what is queued): no poll of our own. */
  int r = timeout < 0 ? 1 : wait_fd(fd, POLLIN, timeout);
  if (r < 0) return ovl_throw_errno(env, "poll", errno);
  if (r == 0) return ovl_i32(env, 0);
  int n = 0;
  while (n < count) {
    size_t off = (size_t)b.offs[n];
    if (off + (size_t)cap > b.slab_len) return ovl_throw_errno(env, "readBatch slot outside slab", EINVAL);
    ssize_t got = read(fd, b.slab + off, (size_t)cap);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (n > 0) break;
      return ovl_throw_errno(env, "read", errno);
    }
    b.lens[n++] = (int32_t)got;
  }
  return ovl_i32(env, n);
}

/* writeBatch(fd, slab, offs, lens, count, errs: Int32Array[2]) → packets written.
 * A packet the kernel refuses is skipped; errs[0] counts them and errs[1] keeps the last errno. */
static napi_value write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, count;
  batch_args b;
  void *ep;
  size_t el;
  if (argc < 6 || !ovl_get_i32(env, argv[0], &fd) || !get_batch(env, argv + 1, &b) || !ovl_get_i32(env, argv[4], &count) ||
      !ovl_get_bytes(env, argv[5], &ep, &el) || el < 8) {
    napi_throw_type_error(env, NULL, "writeBatch(fd, slab, offs, lens, count, errs)");
    return NULL;
  }
  int32_t *errs = ep;
  if (count > (int32_t)b.n_arr) count = (int32_t)b.n_arr;
  int written = 0;
  for (int i = 0; i < count; i++) {
    size_t off = (size_t)b.offs[i], len = (size_t)b.lens[i];
    if (off + len > b.slab_len) {
      errs[0]++;
      errs[1] = EINVAL;
      continue;
    }
    for (int tries = 0;; tries++) {
      ssize_t w = write(fd, b.slab + off, len);
      if (w >= 0) {
        written++;
        break;
      }
      if (errno == EINTR) continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && tries < 100) {
        wait_fd(fd, POLLOUT, 10);
        continue;
      }
      errs[0]++;
      errs[1] = errno;
      break;
    }
  }
  return ovl_i32(env, written);
}

/* recvBatch(fd, slab, offs, lens, count, cap, addrs: Uint32Array, ports: Int32Array, gso: Int32Array, timeoutMs)
 * → datagrams received (0 on timeout). lens[i] = cap + 1 marks a truncated (oversized) datagram;
 * addrs are host-order IPv4; gso[i] is the UDP_GRO segment size (0 when not coalesced). */
static napi_value recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, count, cap, timeout;
  batch_args b;
  void *ap, *pp, *gp;
  size_t al, pl, gl;
  if (argc < 10 || !ovl_get_i32(env, argv[0], &fd) || !get_batch(env, argv + 1, &b) || !ovl_get_i32(env, argv[4], &count) ||
      !ovl_get_i32(env, argv[5], &cap) || !ovl_get_bytes(env, argv[6], &ap, &al) || !ovl_get_bytes(env, argv[7], &pp, &pl) ||
      !ovl_get_bytes(env, argv[8], &gp, &gl) || !ovl_get_i32(env, argv[9], &timeout)) {
    napi_throw_type_error(env, NULL, "recvBatch(fd, slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs)");
    return NULL;
  }
  uint32_t *addrs = ap;
  int32_t *ports = pp, *gso = gp;
  size_t lim = b.n_arr;
  if (al / 4 < lim) lim = al / 4;
  if (pl / 4 < lim) lim = pl / 4;
  if (gl / 4 < lim) lim = gl / 4;
  if (count > (int32_t)lim) count = (int32_t)lim;
  if (count > MAX_BATCH) count = MAX_BATCH;
  /* timeout < 0: the caller has just polled (or only wants what is queued): no poll of our own. */
  int r = timeout < 0 ? 1 : wait_fd(fd, POLLIN, timeout);
  if (r < 0) return ovl_throw_errno(env, "poll", errno);
  if (r == 0) return ovl_i32(env, 0);

  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_in from[MAX_BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctrl[MAX_BATCH];
  memset(msgs, 0, sizeof(msgs[0]) * (size_t)count);
  for (int i = 0; i < count; i++) {
    size_t off = (size_t)b.offs[i];
    if (off + (size_t)cap > b.slab_len) return ovl_throw_errno(env, "recvBatch slot outside slab", EINVAL);
    iov[i].iov_base = b.slab + off;
    iov[i].iov_len = (size_t)cap;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    msgs[i].msg_hdr.msg_control = ctrl[i].buf;
    msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
  }
  int n;
  do {
    n = recvmmsg(fd, msgs, (unsigned)count, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return ovl_i32(env, 0);
    return ovl_throw_errno(env, "recvmmsg", errno);
  }
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &msgs[i].msg_hdr;
    b.lens[i] = (h->msg_flags & MSG_TRUNC) ? cap + 1 : (int32_t)msgs[i].msg_len;
    addrs[i] = ntohl(from[i].sin_addr.s_addr);
    ports[i] = ntohs(from[i].sin_port);
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

/* sendBatch(fd, slab, offs, lens, start, count, addrs, ports, gso) → messages sent, or -errno when
 * the first message fails (EIO from UDP GSO means: turn GSO off). Sends messages start ..
 * start+count-1 of the arrays (an index, so the caller allocates no subarrays). gso[i] > 0 adds a
 * UDP_SEGMENT cmsg so the kernel cuts message i into datagrams of that size. */
static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, start, count;
  batch_args b;
  void *ap, *pp, *gp;
  size_t al, pl, gl;
  if (argc < 9 || !ovl_get_i32(env, argv[0], &fd) || !get_batch(env, argv + 1, &b) || !ovl_get_i32(env, argv[4], &start) ||
      !ovl_get_i32(env, argv[5], &count) || !ovl_get_bytes(env, argv[6], &ap, &al) || !ovl_get_bytes(env, argv[7], &pp, &pl) ||
      !ovl_get_bytes(env, argv[8], &gp, &gl) || start < 0) {
    napi_throw_type_error(env, NULL, "sendBatch(fd, slab, offs, lens, start, count, addrs, ports, gso)");
    return NULL;
  }
  size_t lim = b.n_arr;
  if (al / 4 < lim) lim = al / 4;
  if (pl / 4 < lim) lim = pl / 4;
  if (gl / 4 < lim) lim = gl / 4;
  if ((size_t)start >= lim) return ovl_i32(env, 0);
  lim -= (size_t)start;
  const int32_t *offs = b.offs + start, *lens = b.lens + start;
  const uint32_t *addrs = (const uint32_t *)ap + start;
  const int32_t *ports = (const int32_t *)pp + start, *gso = (const int32_t *)gp + start;
  if (count > (int32_t)lim) count = (int32_t)lim;
  if (count > MAX_BATCH) count = MAX_BATCH;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_in to[MAX_BATCH];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrl[MAX_BATCH];
  memset(msgs, 0, sizeof(msgs[0]) * (size_t)count);
  for (int i = 0; i < count; i++) {
    size_t off = (size_t)offs[i], len = (size_t)lens[i];
    if (off + len > b.slab_len) return ovl_throw_errno(env, "sendBatch slot outside slab", EINVAL);
    iov[i].iov_base = b.slab + off;
    iov[i].iov_len = len;
    memset(&to[i], 0, sizeof to[i]);
    to[i].sin_family = AF_INET;
    to[i].sin_addr.s_addr = htonl(addrs[i]);
    to[i].sin_port = htons((uint16_t)ports[i]);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &to[i];
    msgs[i].msg_hdr.msg_namelen = sizeof to[i];
    if (gso[i] > 0) {
      memset(ctrl[i].buf, 0, sizeof ctrl[i].buf);
      msgs[i].msg_hdr.msg_control = ctrl[i].buf;
      msgs[i].msg_hdr.msg_controllen = sizeof ctrl[i].buf;
      struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)gso[i];
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
  }
  int sent = 0;
  while (sent < count) {
    int n = sendmmsg(fd, msgs + sent, (unsigned)(count - sent), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        if (wait_fd(fd, POLLOUT, 10) >= 0) continue;
      }
      if (sent == 0) return ovl_i32(env, -errno);
      /* Later failures: report what went out; the caller counts the rest as dropped. */
      break;
    }
    sent += n;
  }
  return ovl_i32(env, sent);
}

/* waitReadable(fdA, fdB, timeoutMs) → bit 0: fdA readable, bit 1: fdB readable; 0 on timeout.
 * One poll for a worker that serves both the TUN and the UDP socket. */
static napi_value wait_readable(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fa, fb, timeout;
  if (argc < 3 || !ovl_get_i32(env, argv[0], &fa) || !ovl_get_i32(env, argv[1], &fb) || !ovl_get_i32(env, argv[2], &timeout)) {
    napi_throw_type_error(env, NULL, "waitReadable(fdA, fdB, timeoutMs)");
    return NULL;
  }
  struct pollfd pfd[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
  int r;
  do {
    r = poll(pfd, 2, timeout);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return ovl_throw_errno(env, "poll", errno);
  int mask = 0;
  if (r > 0 && pfd[0].revents) mask |= 1;
  if (r > 0 && pfd[1].revents) mask |= 2;
  return ovl_i32(env, mask);
}

/* close(fd). */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || !ovl_get_i32(env, argv[0], &fd)) {
    napi_throw_type_error(env, NULL, "close(fd)");
    return NULL;
  }
  if (close(fd) < 0) return ovl_throw_errno(env, "close", errno);
  return NULL;
}

void ovl_register_io(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"readBatch", NULL, read_batch, NULL, NULL, NULL, napi_default, NULL},
      {"writeBatch", NULL, write_batch, NULL, NULL, NULL, napi_default, NULL},
      {"recvBatch", NULL, recv_batch, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL},
      {"waitReadable", NULL, wait_readable, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

/* Scatter-gather batch I/O: a packet is a list of byte ranges of one slab (iovecs), so a GSO
 * segment's header (built in a small header slot) and its payload (left where the TUN read put it)
 * go out in one datagram without being copied together, and a GRO-merged packet goes to the TUN as
 * one header plus the payload ranges of the datagrams it was merged from.
 *   sendvBatch   iovec lists → UDP  (sendmmsg, a UDP_SEGMENT size per message)
 *   writevBatch  iovec lists → TUN  (one writev per packet)
 *   csumChunks   the Internet checksum of each fixed-size chunk of a range (one call per super-packet)
 *   sgProbe      whether this kernel takes a UDP_SEGMENT message made of several iovecs
 * Arguments are checked strictly (typed-array kinds, every offset and length inside its array, sums
 * that cannot overflow): a bad argument is a bug in the caller and throws, it never reads outside
 * the slab. Waits for a full socket or TUN queue are bounded by a deadline. */
#define _GNU_SOURCE
#include "addon.h"
#include "args.h"
#include "sockaddr.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define SG_MAX_MSGS 256
/* iovecs per call (a 64-segment GSO message takes 128); per message the kernel allows UIO_MAXIOV. */
#define SG_MAX_IOVS 4096
#define SG_MAX_IOV_PER_MSG 1024
/* How long a call waits in all for a full socket buffer or TUN queue before it gives up. */
#define SG_WAIT_MS 100

/* The iovec and message arrays of a call: per thread, so a call allocates nothing. */
static __thread struct iovec sg_iov[SG_MAX_IOVS];
static __thread struct mmsghdr sg_msgs[SG_MAX_MSGS];
static __thread ovl_sockaddr sg_to[SG_MAX_MSGS];
static __thread union {
  char buf[CMSG_SPACE(sizeof(uint16_t))];
  struct cmsghdr align;
} sg_ctrl[SG_MAX_MSGS];

typedef struct {
  void *data;
  size_t n; /* elements */
} typed;

/* argv[i] as a typed array of exactly `kind` (args.h's check), into a typed. */
#define ARG_TYPED(a, i, name, kind, t) ovl_arg_typed((a), (i), (name), (kind), &(t).data, &(t).n)

/* Waits until fd may be written or the deadline passes; 1 when it may be retried. */
static int wait_writable(int fd, int64_t deadline) {
  struct pollfd pfd = {.fd = fd, .events = POLLOUT};
  return ovl_poll_until(&pfd, 1, deadline) > 0;
}

/* Builds the iovecs of iov list entries [first, first+cnt) over the slab into sg_iov[at..];
 * returns the bytes they add up to, or -1 when one lies outside the slab. */
static int64_t fill_iov(const typed *slab, const int32_t *offs, const int32_t *lens, int32_t first, int32_t cnt,
                        size_t at) {
  int64_t total = 0;
  for (int32_t k = 0; k < cnt; k++) {
    int32_t off = offs[first + k], len = lens[first + k];
    if (off < 0 || len < 0 || (size_t)len > slab->n || (size_t)off > slab->n - (size_t)len) return -1;
    sg_iov[at + (size_t)k].iov_base = (uint8_t *)slab->data + off;
    sg_iov[at + (size_t)k].iov_len = (size_t)len;
    total += len;
  }
  return total;
}

/* Entry i of (first, counts) is a valid range of an iov list of n_iov entries, of 1..max iovecs. */
static int range_ok(const int32_t *first, const int32_t *counts, size_t i, size_t n_iov) {
  int32_t f = first[i], c = counts[i];
  return f >= 0 && c >= 1 && c <= SG_MAX_IOV_PER_MSG && (size_t)f <= n_iov && (size_t)c <= n_iov - (size_t)f;
}

/* sendvBatch(fd, slab: Uint8Array, iovOffs: Int32Array, iovLens: Int32Array, first: Int32Array,
 *            counts: Int32Array, start, count, addrs: Uint32Array, ports: Int32Array, gso: Int32Array)
 * → messages sent (from `start`), or -errno when the first one fails (EIO from UDP GSO: turn GSO off).
 * Message i is the iovecs first[i] .. first[i]+counts[i]-1 of (iovOffs, iovLens), sent to
 * addrs[i]:ports[i]; gso[i] > 0 adds UDP_SEGMENT so the kernel cuts it into datagrams of that size.
 * Sends at most 256 messages and 4096 iovecs a call: the caller loops on what was sent. */
static napi_value sendv_batch_af(napi_env env, napi_callback_info info, const char *fn, int family) {
  ovl_args a;
  const size_t w = family == AF_INET6 ? 4 : 1; /* addrs words per message */
  if (!ovl_args_get(env, info, fn, 11, &a)) return NULL;
  int fd;
  int32_t start, count;
  typed slab, offs, lens, first, counts, addrs, ports, gso;
  if (!ovl_arg_fd(&a, 0, "fd", &fd) || !ARG_TYPED(&a, 1, "slab", napi_uint8_array, slab) ||
      !ARG_TYPED(&a, 2, "iovOffs", napi_int32_array, offs) || !ARG_TYPED(&a, 3, "iovLens", napi_int32_array, lens) ||
      !ARG_TYPED(&a, 4, "first", napi_int32_array, first) || !ARG_TYPED(&a, 5, "counts", napi_int32_array, counts) ||
      !ARG_TYPED(&a, 8, "addrs", napi_uint32_array, addrs) || !ARG_TYPED(&a, 9, "ports", napi_int32_array, ports) ||
      !ARG_TYPED(&a, 10, "gso", napi_int32_array, gso))
    return NULL;
  size_t n_iov = offs.n < lens.n ? offs.n : lens.n;
  size_t n_msg = first.n;
  if (counts.n < n_msg) n_msg = counts.n;
  if (addrs.n / w < n_msg) n_msg = addrs.n / w;
  if (ports.n < n_msg) n_msg = ports.n;
  if (gso.n < n_msg) n_msg = gso.n;
  if (!ovl_arg_i32(&a, 6, "start", 0, ovl_min_i32(n_msg, n_msg), &start) ||
      !ovl_arg_i32(&a, 7, "count", 0, ovl_min_i32(n_msg - (size_t)start, n_msg), &count))
    return NULL;
  const int32_t *fi = first.data, *ci = counts.data, *oi = offs.data, *li = lens.data;
  const int32_t *pi = ports.data, *gi = gso.data;
  const uint32_t *ai = addrs.data;
  int m = 0;
  size_t used = 0;
  for (; m < count && m < SG_MAX_MSGS; m++) {
    size_t i = (size_t)start + (size_t)m;
    if (!range_ok(fi, ci, i, n_iov)) {
      ovl_range_error(&a, "a message's iovec range lies outside iovOffs/iovLens");
      return NULL;
    }
    if (used + (size_t)ci[i] > SG_MAX_IOVS) break; /* the rest next call */
    int64_t bytes = fill_iov(&slab, oi, li, fi[i], ci[i], used);
    if (bytes < 0 || bytes > 65535 || pi[i] < 0 || pi[i] > 65535 || gi[i] < 0 || gi[i] > 65535) {
      ovl_range_error(&a, "an iovec outside the slab, a message over 64 KiB, or a bad port/gso");
      return NULL;
    }
    struct msghdr *h = &sg_msgs[m].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &sg_to[m];
    h->msg_namelen = ovl_sockaddr_set(&sg_to[m], family, ai + i * w, (uint16_t)pi[i]);
    h->msg_iov = &sg_iov[used];
    h->msg_iovlen = (size_t)ci[i];
    if (gi[i] > 0) {
      memset(sg_ctrl[m].buf, 0, sizeof sg_ctrl[m].buf);
      h->msg_control = sg_ctrl[m].buf;
      h->msg_controllen = sizeof sg_ctrl[m].buf;
      struct cmsghdr *c = CMSG_FIRSTHDR(h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = (uint16_t)gi[i];
      memcpy(CMSG_DATA(c), &seg, sizeof seg);
    }
    used += (size_t)ci[i];
  }
  if (m == 0 && count > 0) {
    ovl_range_error(&a, "one message has more iovecs than a call takes (4096)");
    return NULL;
  }
  int sent = 0;
  int64_t deadline = 0;
  while (sent < m) {
    int n = sendmmsg(fd, sg_msgs + sent, (unsigned)(m - sent), 0);
    if (n >= 0) {
      sent += n;
      continue;
    }
    int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
      if (deadline == 0) deadline = ovl_now_ms() + SG_WAIT_MS;
      if (wait_writable(fd, deadline)) continue;
    }
    if (sent == 0) return ovl_i32(env, -err);
    break; /* report what went out; the caller counts the rest as dropped */
  }
  return ovl_i32(env, sent);
}

static napi_value sendv_batch(napi_env env, napi_callback_info info) { return sendv_batch_af(env, info, "sendvBatch", AF_INET); }
/* sendvBatch6: the same on an AF_INET6 socket; addrs hold four words per message (sockaddr.h). */
static napi_value sendv_batch6(napi_env env, napi_callback_info info) { return sendv_batch_af(env, info, "sendvBatch6", AF_INET6); }

/* writevBatch(fd, slab: Uint8Array, iovOffs: Int32Array, iovLens: Int32Array, first: Int32Array,
 *             counts: Int32Array, count, errs: Int32Array[2]) → packets written.
 * Packet i is the iovecs first[i] .. first[i]+counts[i]-1, written with one writev (a TUN takes one
 * packet per write). A packet the kernel refuses is skipped: errs[0] counts them, errs[1] keeps
 * the last errno. */
static napi_value writev_batch(napi_env env, napi_callback_info info) {
  ovl_args a;
  if (!ovl_args_get(env, info, "writevBatch", 8, &a)) return NULL;
  int fd;
  int32_t count;
  typed slab, offs, lens, first, counts, errs;
  if (!ovl_arg_fd(&a, 0, "fd", &fd) || !ARG_TYPED(&a, 1, "slab", napi_uint8_array, slab) ||
      !ARG_TYPED(&a, 2, "iovOffs", napi_int32_array, offs) || !ARG_TYPED(&a, 3, "iovLens", napi_int32_array, lens) ||
      !ARG_TYPED(&a, 4, "first", napi_int32_array, first) || !ARG_TYPED(&a, 5, "counts", napi_int32_array, counts) ||
      !ARG_TYPED(&a, 7, "errs", napi_int32_array, errs))
    return NULL;
  if (errs.n < 2) return ovl_range_error(&a, "errs must have 2 entries, got %zu", errs.n), NULL;
  size_t n_iov = offs.n < lens.n ? offs.n : lens.n;
  size_t n_pkt = first.n < counts.n ? first.n : counts.n;
  if (!ovl_arg_i32(&a, 6, "count", 0, ovl_min_i32(n_pkt, n_pkt), &count)) return NULL;
  const int32_t *fi = first.data, *ci = counts.data;
  int32_t *e = errs.data;
  int written = 0;
  int64_t deadline = 0;
  for (int32_t i = 0; i < count; i++) {
    if (!range_ok(fi, ci, (size_t)i, n_iov) || (size_t)ci[i] > SG_MAX_IOVS) {
      napi_throw_range_error(env, NULL, "writevBatch: a packet's iovec range lies outside iovOffs/iovLens");
      return NULL;
    }
    if (fill_iov(&slab, offs.data, lens.data, fi[i], ci[i], 0) < 0) {
      napi_throw_range_error(env, NULL, "writevBatch: an iovec lies outside the slab");
      return NULL;
    }
    for (;;) {
      ssize_t w = writev(fd, sg_iov, ci[i]);
      if (w >= 0) {
        written++;
        break;
      }
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        if (deadline == 0) deadline = ovl_now_ms() + SG_WAIT_MS;
        if (wait_writable(fd, deadline)) continue;
      }
      e[0]++;
      e[1] = err;
      break;
    }
  }
  return ovl_i32(env, written);
}

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "sum16 adds little-endian words and swaps once at the end");

/* Ones' complement sum of len bytes in network order, folded to 16 bits, not complemented. */
static uint32_t sum16(const uint8_t *p, size_t len) {
  uint64_t acc = 0;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    acc += (w & 0xffffffffu) + (w >> 32); /* little-endian halves; swapped once at the end */
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    acc += w;
    p += 2;
    len -= 2;
  }
  if (len) acc += *p; /* an odd last byte is the high byte in network order: the low one in LE memory */
  while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
  return (uint32_t)(((acc & 0xff) << 8) | (acc >> 8));
}

/* csumChunks(buf: Uint8Array, off, len, chunk, out: Uint32Array) → chunks summed.
 * out[i] = the 16-bit sum (folded, not complemented) of bytes [off + i*chunk, off + min((i+1)*chunk, len)):
 * the payload sums of the segments a TSO packet is cut into, taken where the payload lies. */
static napi_value csum_chunks(napi_env env, napi_callback_info info) {
  ovl_args a;
  if (!ovl_args_get(env, info, "csumChunks", 5, &a)) return NULL;
  typed buf, out;
  int32_t off, len, chunk;
  if (!ARG_TYPED(&a, 0, "buf", napi_uint8_array, buf) || !ARG_TYPED(&a, 4, "out", napi_uint32_array, out) ||
      !ovl_arg_i32(&a, 1, "off", 0, ovl_min_i32(buf.n, buf.n), &off) ||
      !ovl_arg_i32(&a, 2, "len", 0, ovl_min_i32(buf.n - (size_t)off, buf.n), &len) ||
      !ovl_arg_i32(&a, 3, "chunk", 1, INT32_MAX, &chunk))
    return NULL;
  size_t chunks = len == 0 ? 0 : ((size_t)len + (size_t)chunk - 1) / (size_t)chunk;
  if (chunks > out.n) {
    napi_throw_range_error(env, NULL, "csumChunks: out has fewer entries than the range has chunks");
    return NULL;
  }
  const uint8_t *p = (const uint8_t *)buf.data + off;
  uint32_t *o = out.data;
  for (size_t i = 0; i < chunks; i++) {
    size_t at = i * (size_t)chunk;
    size_t n = (size_t)len - at < (size_t)chunk ? (size_t)len - at : (size_t)chunk;
    o[i] = sum16(p + at, n);
  }
  return ovl_i32(env, (int32_t)chunks);
}

/* sgProbe() → 0 when a UDP_SEGMENT message of four iovecs (two headers, two payloads) arrives as
 * two intact datagrams over loopback; else the errno (EPROTO: arrived wrong). The datapath uses
 * scatter-gather sends only when this holds. */
static napi_value sg_probe(napi_env env, napi_callback_info info) {
  (void)info;
  int err = 0;
  int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof a) < 0 ||
      getsockname(rx, (struct sockaddr *)&a, &alen) < 0) {
    err = errno;
    goto out;
  }
  uint8_t h0[4] = {1, 2, 3, 4}, p0[6] = {5, 6, 7, 8, 9, 10}, h1[4] = {11, 12, 13, 14}, p1[3] = {15, 16, 17};
  struct iovec iov[4] = {{h0, 4}, {p0, 6}, {h1, 4}, {p1, 3}};
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctrl;
  memset(&ctrl, 0, sizeof ctrl);
  struct msghdr m = {.msg_name = &a, .msg_namelen = sizeof a, .msg_iov = iov, .msg_iovlen = 4,
                     .msg_control = ctrl.buf, .msg_controllen = sizeof ctrl.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
  uint16_t seg = 10;
  memcpy(CMSG_DATA(c), &seg, sizeof seg);
  errno = 0;
  if (sendmsg(tx, &m, 0) != 17) {
    err = errno ? errno : EPROTO;
    goto out;
  }
  uint8_t got[2][32];
  ssize_t n[2];
  for (int i = 0; i < 2; i++) {
    struct pollfd pfd = {.fd = rx, .events = POLLIN};
    if (poll(&pfd, 1, 500) <= 0) {
      err = ETIMEDOUT;
      goto out;
    }
    n[i] = recv(rx, got[i], sizeof got[i], 0);
  }
  static const uint8_t want0[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, want1[7] = {11, 12, 13, 14, 15, 16, 17};
  if (n[0] != 10 || n[1] != 7 || memcmp(got[0], want0, 10) != 0 || memcmp(got[1], want1, 7) != 0) err = EPROTO;
out:
  if (rx >= 0) close(rx);
  if (tx >= 0) close(tx);
  return ovl_i32(env, err);
}

void ovl_register_sg_io(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sendvBatch", NULL, sendv_batch, NULL, NULL, NULL, napi_default, NULL},
      {"sendvBatch6", NULL, sendv_batch6, NULL, NULL, NULL, napi_default, NULL},
      {"writevBatch", NULL, writev_batch, NULL, NULL, NULL, napi_default, NULL},
      {"csumChunks", NULL, csum_chunks, NULL, NULL, NULL, napi_default, NULL},
      {"sgProbe", NULL, sg_probe, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

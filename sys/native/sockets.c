/* Opening the datapath's file descriptors: the TUN device (with or without a virtio_net_hdr and
 * offloads), the UDP socket (big buffers, UDP_GRO), and a rtnetlink socket. All are non-blocking:
 * the batch calls in io.c poll before they read. */
#include "addon.h"
#include "sockaddr.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long nlSend waits, in all, for a netlink socket that says EAGAIN/ENOBUFS; then it throws
 * ETIMEDOUT rather than hold the main thread. */
#define NL_SEND_DEADLINE_MS 1000

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* tunOpen(name, vnetHdr: boolean, multiQueue?: boolean) → [fd, actualName]. With multiQueue, each
 * call on the same name attaches one more queue to the device (IFF_MULTI_QUEUE). */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  ovl_args a;
  char name[IFNAMSIZ];
  size_t nlen;
  bool vnet = false, multi = false;
  /* A longer name would be cut short by the kernel (or by us): refuse it instead. */
  if (!ovl_args_get(env, info, "tunOpen", 3, &a) || !ovl_arg_string(&a, 0, "name", 0, name, sizeof name, &nlen) ||
      !ovl_arg_bool(&a, 1, "vnetHdr", false, &vnet) || !ovl_arg_bool(&a, 2, "multiQueue", true, &multi))
    return NULL;
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ovl_throw_errno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) | (multi ? IFF_MULTI_QUEUE : 0);
  memcpy(ifr.ifr_name, name, nlen);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "TUNSETIFF", err);
  }
  napi_value arr, jname;
  napi_create_array_with_length(env, 2, &arr);
  napi_set_element(env, arr, 0, ovl_i32(env, fd));
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &jname);
  napi_set_element(env, arr, 1, jname);
  return arr;
}

/* tunSetOffload(fd, flags): TUNSETOFFLOAD with TUN_F_* bits; throws EINVAL when unsupported. */
static napi_value tun_set_offload(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  uint32_t flags;
  if (!ovl_args_get(env, info, "tunSetOffload", 2, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_u32(&a, 1, "flags", &flags))
    return NULL;
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) return ovl_throw_errno(env, "TUNSETOFFLOAD", errno);
  return NULL;
}

static void set_buf(int fd, int force_opt, int opt, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

/* Opens a non-blocking UDP socket of family bound to addr:port (sockaddr.h words). An AF_INET6
 * socket is IPV6_V6ONLY: the v4 datapath has its own socket on the same port. */
static napi_value udp_open_af(napi_env env, int family, const uint32_t *addr, int32_t port, int32_t rcv, int32_t snd,
                              bool reuse) {
  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ovl_throw_errno(env, "socket", errno);
  int one = 1;
  if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "IPV6_V6ONLY", err);
  }
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "SO_REUSEPORT", err);
  }
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcv);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, snd);
  ovl_sockaddr sa;
  socklen_t len = ovl_sockaddr_set(&sa, family, addr, (uint16_t)port);
  if (bind(fd, &sa.sa, len) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "bind", err);
  }
  return ovl_i32(env, fd);
}

/* udpOpen(ip: host-order u32, port, rcvbuf, sndbuf, reusePort?: boolean) → fd bound to ip:port.
 * reusePort: the socket joins a SO_REUSEPORT group (one socket per datapath queue). */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  ovl_args a;
  uint32_t ip;
  int32_t port, rcv, snd;
  bool reuse = false;
  /* 0 for a buffer size: keep the system's default. */
  if (!ovl_args_get(env, info, "udpOpen", 5, &a) || !ovl_arg_u32(&a, 0, "ip", &ip) || !ovl_arg_i32(&a, 1, "port", 0, 65535, &port) ||
      !ovl_arg_i32(&a, 2, "rcvbuf", 0, INT32_MAX, &rcv) || !ovl_arg_i32(&a, 3, "sndbuf", 0, INT32_MAX, &snd) ||
      !ovl_arg_bool(&a, 4, "reusePort", true, &reuse))
    return NULL;
  return udp_open_af(env, AF_INET, &ip, port, rcv, snd, reuse);
}

/* udpOpen6(ip: Uint32Array of 4 words (sockaddr.h), port, rcvbuf, sndbuf, reusePort?) → an
 * IPV6_V6ONLY socket bound to [ip]:port, as udpOpen otherwise. */
static napi_value udp_open6(napi_env env, napi_callback_info info) {
  ovl_args a;
  void *ip;
  size_t n;
  int32_t port, rcv, snd;
  bool reuse = false;
  if (!ovl_args_get(env, info, "udpOpen6", 5, &a) || !ovl_arg_typed(&a, 0, "ip", napi_uint32_array, &ip, &n))
    return NULL;
  if (n != 4) return ovl_range_error(&a, "ip must have 4 words (an IPv6 address), got %zu", n), NULL;
  uint32_t words[4];
  memcpy(words, ip, sizeof words); /* read once: JS may rewrite the array */
  if (!ovl_arg_i32(&a, 1, "port", 0, 65535, &port) || !ovl_arg_i32(&a, 2, "rcvbuf", 0, INT32_MAX, &rcv) ||
      !ovl_arg_i32(&a, 3, "sndbuf", 0, INT32_MAX, &snd) || !ovl_arg_bool(&a, 4, "reusePort", true, &reuse))
    return NULL;
  return udp_open_af(env, AF_INET6, words, port, rcv, snd, reuse);
}

/* udpSetGro(fd, on) → true when the kernel accepted UDP_GRO. */
static napi_value udp_set_gro(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  bool on;
  if (!ovl_args_get(env, info, "udpSetGro", 2, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_bool(&a, 1, "on", false, &on))
    return NULL;
  int v = on ? 1 : 0;
  napi_value r;
  napi_get_boolean(env, setsockopt(fd, SOL_UDP, UDP_GRO, &v, sizeof v) == 0, &r);
  return r;
}

/* nlOpen(groups) → a NETLINK_ROUTE socket fd (blocking calls use poll timeouts). */
static napi_value nl_open(napi_env env, napi_callback_info info) {
  ovl_args a;
  uint32_t groups;
  if (!ovl_args_get(env, info, "nlOpen", 1, &a) || !ovl_arg_u32(&a, 0, "groups", &groups)) return NULL;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return ovl_throw_errno(env, "netlink socket", errno);
  int one = 1, big = 4 << 20;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, big);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, big);
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "netlink bind", err);
  }
  return ovl_i32(env, fd);
}

/* nlSend(fd, buf, len) → bytes sent; throws ETIMEDOUT when the socket stays full for
 * NL_SEND_DEADLINE_MS, or the errno of the send. */
static napi_value nl_send(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  int32_t len;
  void *p;
  size_t blen;
  if (!ovl_args_get(env, info, "nlSend", 3, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_typed(&a, 1, "buf", napi_uint8_array, &p, &blen) ||
      !ovl_arg_i32(&a, 2, "len", 0, blen > INT32_MAX ? INT32_MAX : (int32_t)blen, &len))
    return NULL;
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  int64_t deadline = ovl_now_ms() + NL_SEND_DEADLINE_MS;
  for (;;) {
    ssize_t n = sendto(fd, p, (size_t)len, 0, (struct sockaddr *)&sa, sizeof sa);
    if (n >= 0) return ovl_i32(env, (int32_t)n);
    int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS) return ovl_throw_errno(env, "nlSend", err);
    if (ovl_now_ms() >= deadline) return ovl_throw_errno(env, "nlSend: the netlink socket stayed full for 1000 ms", ETIMEDOUT);
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    /* ENOBUFS: poll says writable at once; wait a little anyway rather than spin. */
    if (err == ENOBUFS) poll(NULL, 0, 10);
    else if (ovl_poll_until(&pfd, 1, deadline) < 0) return ovl_throw_errno(env, "nlSend poll", errno);
  }
}

/* nlRecv(fd, buf, timeoutMs) → bytes received (0 when nothing came within timeoutMs, in all). */
static napi_value nl_recv(napi_env env, napi_callback_info info) {
  ovl_args a;
  int fd;
  int32_t timeout;
  void *p;
  size_t blen;
  if (!ovl_args_get(env, info, "nlRecv", 3, &a) || !ovl_arg_fd(&a, 0, "fd", &fd) || !ovl_arg_typed(&a, 1, "buf", napi_uint8_array, &p, &blen) ||
      !ovl_arg_i32(&a, 2, "timeoutMs", 0, OVL_MAX_TIMEOUT_MS, &timeout))
    return NULL;
  if (blen > INT32_MAX) blen = INT32_MAX; /* the result is an int32 */
  int64_t deadline = ovl_now_ms() + timeout;
  for (;;) {
    ssize_t n = recv(fd, p, blen, MSG_DONTWAIT);
    if (n >= 0) return ovl_i32(env, (int32_t)n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ovl_throw_errno(env, "nlRecv", errno);
    /* A wake-up with nothing to read (another reader, a spurious event) waits only the time left. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = ovl_poll_until(&pfd, 1, deadline);
    if (r == 0) return ovl_i32(env, 0);
    if (r < 0) return ovl_throw_errno(env, "nlRecv poll", errno);
  }
}

void ovl_register_sockets(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_default, NULL},
      {"tunSetOffload", NULL, tun_set_offload, NULL, NULL, NULL, napi_default, NULL},
      {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_default, NULL},
      {"udpOpen6", NULL, udp_open6, NULL, NULL, NULL, napi_default, NULL},
      {"udpSetGro", NULL, udp_set_gro, NULL, NULL, NULL, napi_default, NULL},
      {"nlOpen", NULL, nl_open, NULL, NULL, NULL, napi_default, NULL},
      {"nlSend", NULL, nl_send, NULL, NULL, NULL, napi_default, NULL},
      {"nlRecv", NULL, nl_recv, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

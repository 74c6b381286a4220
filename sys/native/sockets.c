/* Opening the datapath's file descriptors: the TUN device (with or without a virtio_net_hdr and
 * offloads), the UDP socket (big buffers, UDP_GRO), and a rtnetlink socket. All are non-blocking:
 * the batch calls in io.c poll before they read. */
#include "addon.h"
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

#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* tunOpen(name, vnetHdr: boolean, multiQueue?: boolean) → [fd, actualName]. With multiQueue, each
 * call on the same name attaches one more queue to the device (IFF_MULTI_QUEUE). */
static napi_value tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char name[IFNAMSIZ];
  size_t nlen;
  bool vnet = false, multi = false;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &nlen) != napi_ok ||
      napi_get_value_bool(env, argv[1], &vnet) != napi_ok || (argc > 2 && napi_get_value_bool(env, argv[2], &multi) != napi_ok)) {
    napi_throw_type_error(env, NULL, "tunOpen(name, vnetHdr, multiQueue)");
    return NULL;
  }
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
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  uint32_t flags;
  if (argc < 2 || !ovl_get_i32(env, argv[0], &fd) || !ovl_get_u32(env, argv[1], &flags)) {
    napi_throw_type_error(env, NULL, "tunSetOffload(fd, flags)");
    return NULL;
  }
  if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0) return ovl_throw_errno(env, "TUNSETOFFLOAD", errno);
  return NULL;
}

static void set_buf(int fd, int force_opt, int opt, int bytes) {
  if (bytes <= 0) return;
  if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) < 0) setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

/* udpOpen(ip: host-order u32, port, rcvbuf, sndbuf, reusePort?: boolean) → fd bound to ip:port.
 * reusePort: the socket joins a SO_REUSEPORT group (one socket per datapath queue). */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t ip;
  int32_t port, rcv, snd;
  bool reuse = false;
  if (argc < 4 || !ovl_get_u32(env, argv[0], &ip) || !ovl_get_i32(env, argv[1], &port) || !ovl_get_i32(env, argv[2], &rcv) ||
      !ovl_get_i32(env, argv[3], &snd) || (argc > 4 && napi_get_value_bool(env, argv[4], &reuse) != napi_ok)) {
    napi_throw_type_error(env, NULL, "udpOpen(ip, port, rcvbuf, sndbuf, reusePort)");
    return NULL;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ovl_throw_errno(env, "socket", errno);
  int one = 1;
  if (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "SO_REUSEPORT", err);
  }
  set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcv);
  set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, snd);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(ip);
  a.sin_port = htons((uint16_t)port);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
    int err = errno;
    close(fd);
    return ovl_throw_errno(env, "bind", err);
  }
  return ovl_i32(env, fd);
}

/* udpSetGro(fd, on) → true when the kernel accepted UDP_GRO. */
static napi_value udp_set_gro(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  bool on;
  if (argc < 2 || !ovl_get_i32(env, argv[0], &fd) || napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "udpSetGro(fd, on)");
    return NULL;
  }
  int v = on ? 1 : 0;
  napi_value r;
  napi_get_boolean(env, setsockopt(fd, SOL_UDP, UDP_GRO, &v, sizeof v) == 0, &r);
  return r;
}

/* nlOpen(groups) → a NETLINK_ROUTE socket fd (blocking calls use poll timeouts). */
static napi_value nl_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint32_t groups = 0;
  if (argc >= 1) ovl_get_u32(env, argv[0], &groups);
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

/* nlSend(fd, buf, len) → bytes sent. */
static napi_value nl_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, len;
  void *p;
  size_t blen;
  if (argc < 3 || !ovl_get_i32(env, argv[0], &fd) || !ovl_get_bytes(env, argv[1], &p, &blen) || !ovl_get_i32(env, argv[2], &len) ||
      (size_t)len > blen) {
    napi_throw_type_error(env, NULL, "nlSend(fd, buf, len)");
    return NULL;
  }
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  for (;;) {
    ssize_t n = sendto(fd, p, (size_t)len, 0, (struct sockaddr *)&sa, sizeof sa);
    if (n >= 0) return ovl_i32(env, (int32_t)n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == ENOBUFS) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      poll(&pfd, 1, 100);
      continue;
    }
    return ovl_throw_errno(env, "netlink send", errno);
  }
}

/* nlRecv(fd, buf, timeoutMs) → bytes received (0 on timeout). */
static napi_value nl_recv(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, timeout;
  void *p;
  size_t blen;
  if (argc < 3 || !ovl_get_i32(env, argv[0], &fd) || !ovl_get_bytes(env, argv[1], &p, &blen) || !ovl_get_i32(env, argv[2], &timeout)) {
    napi_throw_type_error(env, NULL, "nlRecv(fd, buf, timeoutMs)");
    return NULL;
  }
  for (;;) {
    ssize_t n = recv(fd, p, blen, MSG_DONTWAIT);
    if (n >= 0) return ovl_i32(env, (int32_t)n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return ovl_throw_errno(env, "netlink recv", errno);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int r = poll(&pfd, 1, timeout);
    if (r == 0) return ovl_i32(env, 0);
    if (r < 0 && errno != EINTR) return ovl_throw_errno(env, "netlink poll", errno);
  }
}

void ovl_register_sockets(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunOpen", NULL, tun_open, NULL, NULL, NULL, napi_default, NULL},
      {"tunSetOffload", NULL, tun_set_offload, NULL, NULL, NULL, napi_default, NULL},
      {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_default, NULL},
      {"udpSetGro", NULL, udp_set_gro, NULL, NULL, NULL, napi_default, NULL},
      {"nlOpen", NULL, nl_open, NULL, NULL, NULL, napi_default, NULL},
      {"nlSend", NULL, nl_send, NULL, NULL, NULL, napi_default, NULL},
      {"nlRecv", NULL, nl_recv, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}

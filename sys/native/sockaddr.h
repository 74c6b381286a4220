/* A UDP peer address of either family as the batch calls pass it to and from JS: an IPv4 address
 * is one host-order word, an IPv6 address four (bytes 0-3 first, each word host-order), so both
 * travel in a Uint32Array and a message's address is words [i * w, i * w + w). */
#ifndef OVERLAYD_SOCKADDR_H
#define OVERLAYD_SOCKADDR_H
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

typedef union {
  struct sockaddr sa;
  struct sockaddr_in v4;
  struct sockaddr_in6 v6;
} ovl_sockaddr;

/* Fills *s for family (AF_INET or AF_INET6) from the words at addr and port; returns its length. */
static inline socklen_t ovl_sockaddr_set(ovl_sockaddr *s, int family, const uint32_t *addr, uint16_t port) {
  memset(s, 0, sizeof *s);
  if (family == AF_INET6) {
    s->v6.sin6_family = AF_INET6;
    s->v6.sin6_port = htons(port);
    for (int k = 0; k < 4; k++) {
      uint32_t be = htonl(addr[k]);
      memcpy(s->v6.sin6_addr.s6_addr + 4 * k, &be, 4);
    }
    return sizeof s->v6;
  }
  s->v4.sin_family = AF_INET;
  s->v4.sin_addr.s_addr = htonl(addr[0]);
  s->v4.sin_port = htons(port);
  return sizeof s->v4;
}

/* Writes the address of *s (received on a socket of family, the kernel having filled namelen bytes)
 * into the words at addr; returns its port. A name of another family or a short one (recvBatch6 on
 * an AF_INET socket, a socket with unnamed senders) is written as address 0, port 0, which no peer
 * has: the rest of *s was never written and must not reach JS. */
static inline int32_t ovl_sockaddr_get(const ovl_sockaddr *s, socklen_t namelen, int family, uint32_t *addr) {
  const size_t w = family == AF_INET6 ? 4 : 1;
  const socklen_t need = family == AF_INET6 ? sizeof s->v6 : sizeof s->v4;
  if (namelen < need || s->sa.sa_family != family) {
    memset(addr, 0, w * sizeof addr[0]);
    return 0;
  }
  if (family == AF_INET6) {
    for (int k = 0; k < 4; k++) {
      uint32_t be;
      memcpy(&be, s->v6.sin6_addr.s6_addr + 4 * k, 4);
      addr[k] = ntohl(be);
    }
    return ntohs(s->v6.sin6_port);
  }
  addr[0] = ntohl(s->v4.sin_addr.s_addr);
  return ntohs(s->v4.sin_port);
}
#endif

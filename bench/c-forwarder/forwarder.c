/* The floor a userspace TUN<->UDP forwarder starts from: flannel's udp backend I/O model in C.
 * One thread polls the TUN and the UDP socket and moves one packet per read/sendto (TUN to the
 * one peer) or recvfrom/write (peer to TUN), with no batching, offloads, lookup or checks. The
 * benches run it as the "c-forwarder" row, so overlayd's udp datapath is compared with it in the
 * same run. Not part of overlayd.
 *
 *   forwarder TUN-NAME BIND-IP PORT PEER-IP     (prints "ready" once the TUN and socket are open)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "forwarder: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: forwarder TUN-NAME BIND-IP PORT PEER-IP\n");
    return 2;
  }
  int tun = open("/dev/net/tun", O_RDWR);
  if (tun < 0) die("open /dev/net/tun");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
  if (ioctl(tun, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
  int udp = socket(AF_INET, SOCK_DGRAM, 0);
  if (udp < 0) die("socket");
  struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
  struct sockaddr_in peer = local;
  if (inet_pton(AF_INET, argv[2], &local.sin_addr) != 1 || inet_pton(AF_INET, argv[4], &peer.sin_addr) != 1) {
    fprintf(stderr, "forwarder: bad address\n");
    return 2;
  }
  if (bind(udp, (struct sockaddr *)&local, sizeof local) < 0) die("bind");
  printf("ready\n");
  fflush(stdout);
  static unsigned char buf[65536];
  struct pollfd pfd[2] = {{.fd = tun, .events = POLLIN}, {.fd = udp, .events = POLLIN}};
  for (;;) {
    if (poll(pfd, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (pfd[0].revents & POLLIN) {
      ssize_t n = read(tun, buf, sizeof buf);
      if (n > 0) sendto(udp, buf, (size_t)n, 0, (struct sockaddr *)&peer, sizeof peer);
    }
    if (pfd[1].revents & POLLIN) {
      ssize_t n = recv(udp, buf, sizeof buf, 0);
      if (n > 0 && write(tun, buf, (size_t)n) < 0 && errno != EINVAL) die("write");
    }
  }
}

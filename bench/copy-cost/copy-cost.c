/*
 * bench/copy-cost: what the kernel's copies of one UDP GSO message cost, by layout. One process
 * sends a 44-segment UDP_SEGMENT message to itself over loopback and receives it with UDP_GRO, as
 * the udp engine's scatter-gather path does, and reports CPU time per message and per GB.
 *
 *   gcc -O2 -o /tmp/copy-cost bench/copy-cost/copy-cost.c
 *   /tmp/copy-cost WIRE SPLIT RXOFF ITERS [PAYLOAD_OFF]
 *
 * WIRE: wire header bytes in each segment (0 = flannel udp, 22 = VXLAN). SPLIT: 1 = the wire
 * header is its own iovec (one shared copy, three iovecs a segment), 0 = it sits in front of the
 * segment's IP/TCP header (two iovecs a segment). RXOFF: offset of the receive buffer from a
 * page boundary. PAYLOAD_OFF: where the payload starts in its buffer (94 = a TUN read slot:
 * 32 headroom, 10 vnet header, 52 IP/TCP header). Used for docs/udp-datapath.md ("Userspace VXLAN
 * against udp"); compare figures of one run only, on a loaded machine run each case several times.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

enum { HDR = 52, SEG = 1472, NSEG = 44, PORT = 39999 };

static double cpu_seconds(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static int arg(int argc, char **argv, int i, int lo, int hi, int dflt, const char *name) {
  if (i >= argc) return dflt;
  char *end;
  long v = strtol(argv[i], &end, 10);
  if (*end || v < lo || v > hi) {
    fprintf(stderr, "%s: a whole number from %d to %d, got \"%s\"\n", name, lo, hi, argv[i]);
    exit(2);
  }
  return (int)v;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: copy-cost WIRE(0..64) SPLIT(0|1) RXOFF(0..4095) ITERS [PAYLOAD_OFF(0..4095)]\n");
    return 2;
  }
  const int wire = arg(argc, argv, 1, 0, 64, 0, "WIRE");
  const int split = arg(argc, argv, 2, 0, 1, 0, "SPLIT");
  const int rxoff = arg(argc, argv, 3, 0, 4095, 0, "RXOFF");
  const int iters = arg(argc, argv, 4, 1, 10000000, 1, "ITERS");
  const int ploff = arg(argc, argv, 5, 0, 4095, 94, "PAYLOAD_OFF");
  const int mss = SEG - wire - HDR;
  int tx = socket(AF_INET, SOCK_DGRAM, 0), rx = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT), .sin_addr.s_addr = htonl(0x7f000001)};
  int one = 1, big = 8 << 20;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  if (setsockopt(rx, SOL_UDP, UDP_GRO, &one, sizeof one) || bind(rx, (struct sockaddr *)&to, sizeof to)) {
    perror("receive socket");
    return 1;
  }
  unsigned char *payload = aligned_alloc(4096, 1 << 17), *hdrs = aligned_alloc(4096, 1 << 14);
  unsigned char *rbuf = aligned_alloc(4096, 1 << 17);
  memset(payload, 7, 1 << 17);
  memset(hdrs, 9, 1 << 14);
  struct iovec iov[3 * NSEG];
  int n = 0;
  for (int k = 0; k < NSEG; k++) {
    if (wire && split) {
      iov[n++] = (struct iovec){hdrs + 8192, (size_t)wire};
      iov[n++] = (struct iovec){hdrs + k * HDR, HDR};
    } else
      iov[n++] = (struct iovec){hdrs + k * (HDR + wire), (size_t)(HDR + wire)};
    iov[n++] = (struct iovec){payload + ploff + k * mss, (size_t)mss};
  }
  char cbuf[CMSG_SPACE(sizeof(unsigned short))];
  memset(cbuf, 0, sizeof cbuf);
  struct msghdr m = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = iov, .msg_iovlen = n};
  m.msg_control = cbuf;
  m.msg_controllen = sizeof cbuf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(unsigned short));
  *(unsigned short *)CMSG_DATA(c) = SEG;
  struct iovec riov = {rbuf + rxoff, 65536};
  char rc[256];
  long bytes = 0;
  const double t0 = cpu_seconds();
  for (int i = 0; i < iters; i++) {
    if (sendmsg(tx, &m, 0) < 0) {
      perror("sendmsg");
      return 1;
    }
    struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = rc, .msg_controllen = sizeof rc};
    ssize_t got = recvmsg(rx, &rm, 0);
    if (got < 0) {
      perror("recvmsg");
      return 1;
    }
    bytes += got;
  }
  const double t = cpu_seconds() - t0;
  printf("wire %2d split %d rxoff %4d payload_off %4d: %5.1f us/message, %.3f CPU s/GB\n", wire, split, rxoff,
         ploff, t / iters * 1e6, t / (bytes / 1e9));
  return 0;
}

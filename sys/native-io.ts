/**
 * The batch interfaces of batch-io.ts on real fds, straight onto the addon's calls, and the two
 * other native calls a datapath worker makes per batch. Tests bind the same interfaces to memory
 * instead (test/support/memory-io.ts).
 */
import type { TunIo, UdpIo } from './batch-io.js';
import { nativeSys, type NativeSys } from './native.js';

let sys: NativeSys | undefined;
const native = (): NativeSys => (sys ??= nativeSys());

/** TUN queue `fd` as a TunIo: read/write batches (native/io.c), gathered writes (native/sg-io.c). */
export function nativeTunIo(fd: number): TunIo {
  const n = native();
  return {
    read: (slab, offs, lens, count, cap, timeoutMs) =>
      n.readBatch(fd, slab, offs, lens, count, cap, timeoutMs),
    write: (slab, offs, lens, count, errs) => n.writeBatch(fd, slab, offs, lens, count, errs),
    writev: (slab, iovs, count, errs) =>
      n.writevBatch(fd, slab, iovs.offs, iovs.lens, iovs.first, iovs.counts, count, errs),
  };
}

/** The UdpIo of socket `fd` over one family's batch calls. */
function udpIo(
  fd: number,
  recv: NativeSys['recvBatch'],
  send: NativeSys['sendBatch'],
  sendv: NativeSys['sendvBatch'],
): UdpIo {
  return {
    recv: (slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs) =>
      recv(fd, slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs),
    send: (slab, offs, lens, start, count, addrs, ports, gso) =>
      send(fd, slab, offs, lens, start, count, addrs, ports, gso),
    sendv: (slab, iovs, start, count, addrs, ports, gso) =>
      sendv(fd, slab, iovs.offs, iovs.lens, iovs.first, iovs.counts, start, count, addrs, ports, gso),
  };
}

/** UDP socket `fd` as a UdpIo: recvmmsg/sendmmsg with UDP GRO/GSO (native/mmsg.c), iovec sends (native/sg-io.c). */
export function nativeUdpIo(fd: number): UdpIo {
  const n = native();
  return udpIo(fd, n.recvBatch, n.sendBatch, n.sendvBatch);
}

/**
 * An AF_INET6 UDP socket `fd` as a UdpIo: the same calls on IPv6 peers, each address four words of
 * `addrs` (message i's at [4i, 4i + 4): core/ipv6-words.ts).
 */
export function nativeUdpIo6(fd: number): UdpIo {
  const n = native();
  return udpIo(fd, n.recvBatch6, n.sendBatch6, n.sendvBatch6);
}

/** poll(2) on two fds for up to timeoutMs: bit 1 = `a` readable, bit 2 = `b`; 0 on timeout. */
export function waitReadable(a: number, b: number, timeoutMs: number): number {
  return native().waitReadable(a, b, timeoutMs);
}

/** The Internet checksum's folded 16-bit sum of buf[off, off+len) plus `seed`, in C (native/csum.c). */
export function nativeChecksum(buf: Uint8Array, off: number, len: number, seed: number): number {
  return native().csum(buf, off, len, seed);
}

/** The folded 16-bit sum of each `chunk`-byte piece of buf[off, off+len) into out (native/sg-io.c). */
export function nativeChunkSums(
  buf: Uint8Array,
  off: number,
  len: number,
  chunk: number,
  out: Uint32Array,
): number {
  return native().csumChunks(buf, off, len, chunk, out);
}

/** 0 when this kernel sends a UDP_SEGMENT message made of iovecs intact (loopback probe); else the errno. */
export function probeScatterGather(): number {
  return native().sgProbe();
}

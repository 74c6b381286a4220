/**
 * The two batch-shaped interfaces the udp engines talk to: a TUN device and a UDP socket. The
 * worker binds them to the native calls on real fds (nativeTunIo, nativeUdpIo below); tests bind
 * them to memory (test/support/memory-io.ts) to run two engines back to back. Every call moves a
 * batch of packets between the kernel (or the fake) and caller-owned slots of one slab:
 * (offs[i], lens[i]) describe packet i.
 */
import { nativeSys, type NativeSys } from './native.js';

export interface TunIo {
  /** Reads up to `count` packets, packet i into slab[offs[i] .. offs[i]+cap); fills lens; 0 on timeout. */
  read(
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    count: number,
    cap: number,
    timeoutMs: number,
  ): number;
  /** Writes `count` packets; returns how many the device took; errs[0] += refused, errs[1] = last errno. */
  write(slab: Uint8Array, offs: Int32Array, lens: Int32Array, count: number, errs: Int32Array): number;
}

export interface UdpIo {
  /**
   * Receives up to `count` datagrams (fills lens, sender addrs/ports, and gso = UDP_GRO segment size
   * or 0); a truncated datagram has lens[i] = cap + 1; 0 on timeout.
   */
  recv(
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    count: number,
    cap: number,
    addrs: Uint32Array,
    ports: Int32Array,
    gso: Int32Array,
    timeoutMs: number,
  ): number;
  /**
   * Sends messages start .. start+count-1 (gso[i] > 0: cut into datagrams of that size); returns
   * messages sent, or -errno if the first failed. An index rather than subarrays: nothing allocated.
   */
  send(
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    start: number,
    count: number,
    addrs: Uint32Array,
    ports: Int32Array,
    gso: Int32Array,
  ): number;
}

let sys: NativeSys | undefined;
const native = (): NativeSys => (sys ??= nativeSys());

/** TUN queue `fd` as a TunIo: readv/writev batches in the addon (native/io.c). */
export function nativeTunIo(fd: number): TunIo {
  const n = native();
  return {
    read: (slab, offs, lens, count, cap, timeoutMs) =>
      n.readBatch(fd, slab, offs, lens, count, cap, timeoutMs),
    write: (slab, offs, lens, count, errs) => n.writeBatch(fd, slab, offs, lens, count, errs),
  };
}

/** UDP socket `fd` as a UdpIo: recvmmsg/sendmmsg with UDP GRO/GSO in the addon (native/io.c). */
export function nativeUdpIo(fd: number): UdpIo {
  const n = native();
  return {
    recv: (slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs) =>
      n.recvBatch(fd, slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs),
    send: (slab, offs, lens, start, count, addrs, ports, gso) =>
      n.sendBatch(fd, slab, offs, lens, start, count, addrs, ports, gso),
  };
}

/** poll(2) on two fds for up to timeoutMs: bit 1 = `a` readable, bit 2 = `b`; 0 on timeout. */
export function waitReadable(a: number, b: number, timeoutMs: number): number {
  return native().waitReadable(a, b, timeoutMs);
}

/** The Internet checksum's folded 16-bit sum of buf[off, off+len) plus `seed`, in C (native/csum.c). */
export function nativeChecksum(buf: Uint8Array, off: number, len: number, seed: number): number {
  return native().csum(buf, off, len, seed);
}

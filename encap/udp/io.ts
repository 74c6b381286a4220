/**
 * The two batch-shaped interfaces the udp engines talk to: a TUN device and a UDP socket. The
 * worker binds them to the native calls on real fds; tests bind them to memory to run two engines
 * back to back. Every call moves a batch of packets between the kernel (or the fake) and
 * caller-owned slots of one slab: (offs[i], lens[i]) describe packet i.
 */

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
   * messages sent, or -errno if the first failed (-ETIMEDOUT: the socket stayed full for the
   * call's deadline, so the rest of the batch should be dropped). An index rather than subarrays:
   * nothing allocated.
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

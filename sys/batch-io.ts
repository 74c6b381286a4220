/**
 * The two batch-shaped interfaces the udp engines talk to: a TUN device and a UDP socket. The
 * worker binds them to the native calls on real fds; tests bind them to memory to run two engines
 * back to back. Every call moves a batch of packets between the kernel (or the fake) and
 * caller-owned slots of one slab: (offs[i], lens[i]) describe packet i. The scatter-gather calls
 * (writev, sendv) take packets made of several ranges of the slab instead (an IovBatch).
 */

/**
 * Packets as lists of slab ranges: packet i is ranges first[i] .. first[i]+counts[i]-1 of
 * (offs, lens), sent or written as one packet without being copied together.
 */
export interface IovBatch {
  readonly offs: Int32Array;
  readonly lens: Int32Array;
  readonly first: Int32Array;
  readonly counts: Int32Array;
}

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
  /** Writes packets 0..count-1 of `iovs`, each gathered from its ranges; otherwise as write(). */
  writev(slab: Uint8Array, iovs: IovBatch, count: number, errs: Int32Array): number;
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
  /**
   * As send(), with message i gathered from its ranges in `iovs` (a GSO message: header, payload,
   * header, payload, ...). May send fewer messages than asked without an error (a call's limit):
   * the caller sends the rest with another call.
   */
  sendv(
    slab: Uint8Array,
    iovs: IovBatch,
    start: number,
    count: number,
    addrs: Uint32Array,
    ports: Int32Array,
    gso: Int32Array,
  ): number;
}

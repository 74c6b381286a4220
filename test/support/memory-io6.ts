/**
 * memory-io.ts's UdpIo for an IPv6 engine: sockets addressed by four words (core/ipv6-words.ts),
 * addresses four words per message in the engines' arrays, UDP GSO cut as the kernel cuts it. No
 * GRO: the engines' GRO handling is the same code for both families and memory-io.ts tests it.
 */
import type { IovBatch, UdpIo } from '../../sys/batch-io.js';
import { gather } from './memory-io.js';

interface Datagram6 {
  from: Uint32Array;
  port: number;
  data: Uint8Array;
}

const keyOf = (a: ArrayLike<number>, at = 0): string =>
  `${a[at]! >>> 0}:${a[at + 1]! >>> 0}:${a[at + 2]! >>> 0}:${a[at + 3]! >>> 0}`;

export class MemoryNetwork6 {
  readonly sockets = new Map<string, MemoryUdp6>();
}

export class MemoryUdp6 implements UdpIo {
  readonly inbox: Datagram6[] = [];

  constructor(
    readonly net: MemoryNetwork6,
    readonly ip: Uint32Array,
    readonly port: number,
  ) {
    net.sockets.set(keyOf(ip), this);
  }

  recv(
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    count: number,
    cap: number,
    addrs: Uint32Array,
    ports: Int32Array,
    gso: Int32Array,
  ): number {
    let n = 0;
    while (n < count && this.inbox.length > 0) {
      const d = this.inbox.shift()!;
      const len = Math.min(d.data.length, cap);
      slab.set(d.data.subarray(0, len), offs[n]!);
      lens[n] = d.data.length > cap ? cap + 1 : len;
      gso[n] = 0;
      addrs.set(d.from, n * 4);
      ports[n] = d.port;
      n++;
    }
    return n;
  }

  private deliver(addrs: Uint32Array, i: number, data: Uint8Array, seg: number): void {
    const dst = this.net.sockets.get(keyOf(addrs, i * 4));
    for (let o = 0; o < data.length; o += seg)
      dst?.inbox.push({
        from: this.ip,
        port: this.port,
        data: data.slice(o, Math.min(o + seg, data.length)),
      });
  }

  send(
    slab: Uint8Array,
    offs: Int32Array,
    lens: Int32Array,
    start: number,
    count: number,
    addrs: Uint32Array,
    _ports: Int32Array,
    gso: Int32Array,
  ): number {
    for (let i = start; i < start + count; i++) {
      const data = slab.subarray(offs[i]!, offs[i]! + lens[i]!);
      this.deliver(addrs, i, data, gso[i]! > 0 ? gso[i]! : data.length);
    }
    return count;
  }

  sendv(
    slab: Uint8Array,
    iovs: IovBatch,
    start: number,
    count: number,
    addrs: Uint32Array,
    _ports: Int32Array,
    gso: Int32Array,
  ): number {
    for (let i = start; i < start + count; i++) {
      const data = gather(slab, iovs, i);
      this.deliver(addrs, i, data, gso[i]! > 0 ? gso[i]! : data.length);
    }
    return count;
  }

  /** Injects a datagram as if from (ip, port): for hostile-input tests. */
  inject(from: Uint32Array, port: number, data: Uint8Array): void {
    this.inbox.push({ from, port, data });
  }
}

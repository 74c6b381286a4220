/**
 * In-memory TunIo and UdpIo, so two engines can run back to back in a unit test, the way
 * wireguard-go tests its device with fake TUN and bind. The fake network applies UDP GSO
 * (cutting a message into datagrams) and, when asked, UDP GRO (coalescing a sender's equal-size
 * datagrams into one message). One network carries IPv4 sockets (MemoryUdp) or an IPv6 engine's
 * (MemoryUdp6: four address words per message); the two differ only in how addresses travel.
 */
import type { IovBatch, TunIo, UdpIo } from '../../sys/batch-io.js';

/** Packet p of an IovBatch gathered into one array (what writev/sendmsg would hand the kernel). */
export function gather(slab: Uint8Array, iovs: IovBatch, p: number): Uint8Array {
  const first = iovs.first[p]!;
  const end = first + iovs.counts[p]!;
  let n = 0;
  for (let r = first; r < end; r++) n += iovs.lens[r]!;
  const out = new Uint8Array(n);
  let at = 0;
  for (let r = first; r < end; r++) {
    out.set(slab.subarray(iovs.offs[r]!, iovs.offs[r]! + iovs.lens[r]!), at);
    at += iovs.lens[r]!;
  }
  return out;
}

export class MemoryTun implements TunIo {
  /** Packets the "kernel" hands to the engine (already including a vnet header when used). */
  readonly toEngine: Uint8Array[] = [];
  /** Packets the engine wrote to the device. */
  readonly fromEngine: Uint8Array[] = [];

  read(slab: Uint8Array, offs: Int32Array, lens: Int32Array, count: number, cap: number): number {
    let n = 0;
    while (n < count && this.toEngine.length > 0) {
      const p = this.toEngine.shift()!;
      if (p.length > cap) continue;
      slab.set(p, offs[n]!);
      lens[n++] = p.length;
    }
    return n;
  }

  /** Scatter-gather writes (writev calls) seen, and packets written with more than one range. */
  writevCalls = 0;
  gathered = 0;

  write(slab: Uint8Array, offs: Int32Array, lens: Int32Array, count: number): number {
    for (let i = 0; i < count; i++) this.fromEngine.push(slab.slice(offs[i]!, offs[i]! + lens[i]!));
    return count;
  }

  writev(slab: Uint8Array, iovs: IovBatch, count: number): number {
    this.writevCalls++;
    for (let p = 0; p < count; p++) {
      if (iovs.counts[p]! > 1) this.gathered++;
      this.fromEngine.push(gather(slab, iovs, p));
    }
    return count;
  }
}

/**
 * How a fake network's addresses travel in the engines' arrays: an IPv4 engine's one word per
 * message, an IPv6 engine's four (core/ipv6-words.ts), and the key a socket is found by.
 */
interface AddrFamily<A> {
  key(a: A): number | string;
  keyAt(addrs: Uint32Array, i: number): number | string;
  put(addrs: Uint32Array, i: number, a: A): void;
}

const V4: AddrFamily<number> = {
  key: (a) => a,
  keyAt: (addrs, i) => addrs[i]!,
  put: (addrs, i, a) => {
    addrs[i] = a;
  },
};

const key6 = (a: ArrayLike<number>, at = 0): string =>
  `${a[at]! >>> 0}:${a[at + 1]! >>> 0}:${a[at + 2]! >>> 0}:${a[at + 3]! >>> 0}`;

const V6: AddrFamily<Uint32Array> = {
  key: (a) => key6(a),
  keyAt: (addrs, i) => key6(addrs, i * 4),
  put: (addrs, i, a) => addrs.set(a, i * 4),
};

interface Datagram<A> {
  from: A;
  port: number;
  data: Uint8Array;
}

/** A UDP "socket" with an address of family A, on a shared in-memory network. */
class MemoryUdpOf<A> implements UdpIo {
  readonly inbox: Datagram<A>[] = [];
  sendCalls = 0;

  constructor(
    readonly net: MemoryNetworkOf<A>,
    readonly ip: A,
    readonly port: number,
    readonly gro = false,
  ) {
    net.sockets.set(net.family.key(ip), this);
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
    const fam = this.net.family;
    let n = 0;
    while (n < count && this.inbox.length > 0) {
      const first = this.inbox.shift()!;
      let len = first.data.length;
      const at = offs[n]!;
      if (len > cap) {
        slab.set(first.data.subarray(0, cap), at);
        lens[n] = cap + 1;
        gso[n] = 0;
      } else {
        slab.set(first.data, at);
        let segs = 1;
        // GRO: following datagrams of the same sender and size join the message (the last may be shorter).
        while (this.gro && this.inbox.length > 0) {
          const next = this.inbox[0]!;
          if (
            next.data.length === 0 || // the kernel's UDP GRO flushes, never merges, empty payloads
            first.data.length === 0 ||
            fam.key(next.from) !== fam.key(first.from) ||
            next.port !== first.port ||
            next.data.length > first.data.length ||
            len + next.data.length > cap
          )
            break;
          if (segs > 1 && len % first.data.length !== 0) break;
          slab.set(next.data, at + len);
          len += next.data.length;
          segs++;
          this.inbox.shift();
          if (next.data.length < first.data.length) break;
        }
        lens[n] = len;
        gso[n] = segs > 1 ? first.data.length : 0;
      }
      fam.put(addrs, n, first.from);
      ports[n] = first.port;
      n++;
    }
    return n;
  }

  /** Message i's data to the socket at its address, cut into datagrams of gso[i] as UDP GSO does. */
  private deliver(addrs: Uint32Array, i: number, data: Uint8Array, gso: Int32Array): void {
    const dst = this.net.sockets.get(this.net.family.keyAt(addrs, i));
    const seg = gso[i]! > 0 ? gso[i]! : data.length;
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
    // Every socket of the fake network listens on the same port, as flannel's udp nodes do.
    this.sendCalls++;
    for (let i = start; i < start + count; i++)
      this.deliver(addrs, i, slab.subarray(offs[i]!, offs[i]! + lens[i]!), gso);
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
    this.sendCalls++;
    // As the native call: at most this many messages a call, the caller sends the rest.
    const n = Math.min(count, this.sendvLimit);
    for (let i = start; i < start + n; i++) this.deliver(addrs, i, gather(slab, iovs, i), gso);
    return n;
  }

  /** Messages one sendv call takes (the native call's limit is 256). */
  sendvLimit = 256;

  /** Injects a datagram as if from (ip, port): for hostile-input tests. */
  inject(from: A, fromPort: number, data: Uint8Array): void {
    this.inbox.push({ from, port: fromPort, data });
  }
}

class MemoryNetworkOf<A> {
  readonly sockets = new Map<number | string, MemoryUdpOf<A>>();
  constructor(readonly family: AddrFamily<A>) {}
}

/** An IPv4 network: sockets by their host-order address, one address word per message. */
export class MemoryNetwork extends MemoryNetworkOf<number> {
  constructor() {
    super(V4);
  }
}

export class MemoryUdp extends MemoryUdpOf<number> {}

/**
 * An IPv6 network, for an IPv6 engine (family 6): sockets by four address words, four words per
 * message in the engines' arrays.
 */
export class MemoryNetwork6 extends MemoryNetworkOf<Uint32Array> {
  constructor() {
    super(V6);
  }
}

export class MemoryUdp6 extends MemoryUdpOf<Uint32Array> {}

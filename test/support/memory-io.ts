/**
 * In-memory TunIo and UdpIo, so two engines can run back to back in a unit test, the way
 * wireguard-go tests its device with fake TUN and bind. The fake network applies UDP GSO
 * (cutting a message into datagrams) and, when asked, UDP GRO (coalescing a sender's equal-size
 * datagrams into one message).
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

interface Datagram {
  from: number;
  port: number;
  data: Uint8Array;
}

/** A UDP "socket" with an address, on a shared in-memory network. */
export class MemoryUdp implements UdpIo {
  readonly inbox: Datagram[] = [];
  sendCalls = 0;

  constructor(
    readonly net: MemoryNetwork,
    readonly ip: number,
    readonly port: number,
    readonly gro = false,
  ) {
    net.sockets.set(ip, this);
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
      const first = this.inbox.shift()!;
      let len = first.data.length;
      const at = offs[n]!;
      if (len > cap) {
        slab.set(first.data.subarray(0, cap), at);
        lens[n] = cap + 1;
      } else {
        slab.set(first.data, at);
        let segs = 1;
        // GRO: following datagrams of the same sender and size join the message (the last may be shorter).
        while (this.gro && this.inbox.length > 0) {
          const next = this.inbox[0]!;
          if (
            next.data.length === 0 || // the kernel's UDP GRO flushes, never merges, empty payloads
            first.data.length === 0 ||
            next.from !== first.from ||
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
      addrs[n] = first.from;
      ports[n] = first.port;
      n++;
    }
    return n;
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
    for (let i = start; i < start + count; i++) {
      const dst = this.net.sockets.get(addrs[i]!);
      const data = slab.subarray(offs[i]!, offs[i]! + lens[i]!);
      const seg = gso[i]! > 0 ? gso[i]! : data.length;
      for (let o = 0; o < data.length; o += seg) {
        dst?.inbox.push({
          from: this.ip,
          port: this.port,
          data: data.slice(o, Math.min(o + seg, data.length)),
        });
      }
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
    this.sendCalls++;
    // As the native call: at most this many messages a call, the caller sends the rest.
    const n = Math.min(count, this.sendvLimit);
    for (let i = start; i < start + n; i++) {
      const dst = this.net.sockets.get(addrs[i]!);
      const data = gather(slab, iovs, i);
      const seg = gso[i]! > 0 ? gso[i]! : data.length;
      for (let o = 0; o < data.length; o += seg)
        dst?.inbox.push({
          from: this.ip,
          port: this.port,
          data: data.slice(o, Math.min(o + seg, data.length)),
        });
    }
    return n;
  }

  /** Messages one sendv call takes (the native call's limit is 256). */
  sendvLimit = 256;

  /** Injects a datagram as if from (ip, port): for hostile-input tests. */
  inject(fromIp: number, fromPort: number, data: Uint8Array): void {
    this.inbox.push({ from: fromIp, port: fromPort, data });
  }
}

export class MemoryNetwork {
  readonly sockets = new Map<number, MemoryUdp>();
}

/**
 * UDP → TUN, one batch per step():
 *   1. acquire receive slots, one recvmmsg (with UDP_GRO, a message holds several datagrams of
 *      the gso size)
 *   2. per datagram: the sender must be a known peer's PublicIP:port; the payload must be exactly
 *      one well-formed IPv4 packet whose source is in that peer's subnet and whose destination is
 *      in ours; TTL decrement. Anything else is dropped and counted by reason.
 *   3. with offloads: consecutive segments of a TCP flow are merged into one super-packet with a
 *      virtio_net_hdr (GRO toward the TUN); without: packets are written from their receive slot.
 *      Scatter-gather (opts.sg): a merged packet is a header built in a small header slot plus the
 *      payload ranges left in the receive slots, written with one writev; nothing is copied.
 *      Copying (the fallback): the segments are copied together into an output slot.
 *   4. one write batch to the TUN, then release every slot the batch took
 * The wire (encap/udp/wire/wire.ts) checks and strips its header first (VXLAN: flags, VNI, inner MAC
 * and EtherType); its drops are counted like the rest. A wire with per-packet framing (WireGuard)
 * takes every datagram instead (handshakes to its control plane, transport data queued), opens the
 * batch in one call and hands back each inner packet with its sender's allowed nets.
 * An IPv6 engine (opts.family 6) checks the same on inner IPv6: the sender is a known peer's
 * PublicIPv6 (four words, looked up by a mix of them and compared in full), the packet one
 * well-formed IPv6 packet (version 6, payload length = the bytes after the header) whose source is
 * in that peer's IPv6 subnet and destination in ours; hop-limit decrement. A framed wire's IPv6
 * engine (flannel-wg-v6) hands back opened inner IPv6 packets with the peer's IPv6 allowed nets.
 * flannel's proxy checked nothing here; an overlay port open to the network must not be a way in.
 */
import { sum16 } from '../packet/checksum.js';
import { checkIpv4, decrementTtl, dstOf, srcOf, Verdict } from '../packet/ipv4-packet.js';
import { completePartialL4 } from '../packet/partial-checksum.js';
import type { SumFn } from '../packet/tcp-gso.js';
import { coalescibleHeaderLen, TcpCoalescer } from '../packet/tcp-gro.js';
import { MAX_MERGED_SEGMENTS, MERGED_HEADER_MAX, TcpRangeCoalescer } from '../packet/tcp-gro-ranges.js';
import { VNET_HDR_LEN, writeEmptyVnetHdr } from '../packet/vnet-hdr.js';
import { maskOf } from '../../core/ipv4.js';
import { maskWord6 } from '../../core/ipv6-words.js';
import { checkIpv6, decrementHopLimit, DST6, inNet6, SRC6, Verdict6 } from '../packet/ipv6-packet.js';
import { completePartialL4v6 } from '../packet/partial-checksum6.js';
import { SlotBatch, type SlotPool } from '../pool.js';
import { UDP_WIRE } from './wire/udp-wire.js';
import {
  WIRE_OK,
  type AllowedNet,
  type AllowedNet6,
  type DeliverFn,
  type DeliverFn6,
  type PacketFraming,
  type Wire,
} from './wire/wire.js';
import { C, dropIndex, reasonIndex, type DropReason } from './counters.js';
import type { TunIo, UdpIo } from '../../sys/batch-io.js';
import { IovList } from './iov-list.js';
import type { EngineOptions } from './tx-engine.js';
import type { PeerEntry, SharedPeerTable } from './peer-table.js';

/** One subnet a sender may speak for (a PublicIP normally has one lease; bogus extra ones must not shadow it). */
interface Sender extends AllowedNet {
  port: number;
  net: number;
  mask: number;
  next: Sender | undefined;
}

/** An IPv6 peer: its PublicIPv6, the subnet it may speak for, others sharing the lookup key. */
interface Sender6 extends AllowedNet6 {
  readonly addr: Uint32Array;
  readonly next: Sender6 | undefined;
}

/** The lookup key of an IPv6 sender (collisions are resolved by comparing all four words). */
const senderKey6 = (w0: number, w1: number, w2: number, w3: number): number =>
  (Math.imul(w0 ^ w2, 0x9e3779b1) ^ Math.imul(w1 ^ w3, 0x85ebca77) ^ w3) | 0;

const sameAddr6 = (a: Uint32Array, b: Uint32Array): boolean =>
  a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];

const drop = (r: DropReason): number => dropIndex('rx', reasonIndex(r));
const SPOOFED_SOURCE = drop('spoofed_source');
const DISALLOWED_SOURCE = drop('disallowed_source');
const VERDICT_DROP = [
  -1,
  drop('too_short'),
  drop('not_ipv4'),
  drop('bad_ihl'),
  drop('bad_length'),
  drop('bad_header_checksum'),
  drop('ttl_expired'),
];
const VERDICT6_DROP = [-1, drop('too_short'), drop('not_ipv6'), drop('bad_length')];

export class RxEngine {
  private readonly senders = new Map<number, Sender>();
  private readonly senders6 = new Map<number, Sender6>();
  /** An IPv6 engine (opts.family 6): addresses are four words per datagram. */
  private readonly v6: boolean;
  private readonly own6 = new Uint32Array(4);
  private readonly ownNet6 = new Uint32Array(4);
  private readonly ownMask6 = new Uint32Array(4);
  private tableVersion = -1;
  private ownNet = 0;
  private ownMask = 0xffffffff;
  private ownValid = false;
  private readonly entries: PeerEntry[] = [];
  private readonly co = new TcpCoalescer();
  private readonly rco = new TcpRangeCoalescer();
  /** Scatter-gather writes (offloads on and opts.sg). */
  private readonly sg: boolean;
  private readonly iovs: IovList;
  private coOpen = false;
  /** Output cursor: packets are packed back to back in output slots. */
  private outSlot = -1;
  private outPos = 0;
  private coBase = 0;
  /** Output slots this batch took (receive slots are the engine's own, taken once: see TxEngine). */
  private readonly batch: SlotBatch;
  private readonly nRecv: number;
  private readonly rOffs: Int32Array;
  private readonly rLens: Int32Array;
  private readonly rAddrs: Uint32Array;
  private readonly rPorts: Int32Array;
  private readonly rGso: Int32Array;
  private readonly wOffs: Int32Array;
  private readonly wLens: Int32Array;
  private readonly wSegs: Int32Array;
  private nWrite = 0;
  private readonly errs = new Int32Array(2);
  private readonly framing: PacketFraming | undefined;
  /** Opened packets of a framed wire, through the same checks as the rest (allocated once). */
  private readonly deliverFramed: DeliverFn = (pkt, len, allowed) =>
    this.inner(pkt, len, allowed, true, DISALLOWED_SOURCE);
  private readonly deliverFramed6: DeliverFn6 = (pkt, len, allowed) =>
    this.inner6(pkt, len, allowed, true, DISALLOWED_SOURCE, undefined);

  constructor(
    private readonly opts: EngineOptions,
    private readonly pool: SlotPool,
    private readonly table: SharedPeerTable,
    private readonly tun: TunIo,
    private readonly udp: UdpIo,
    private readonly counters: Float64Array,
    private readonly wire: Wire = UDP_WIRE,
    private readonly sum: SumFn = sum16,
  ) {
    const b = opts.batch;
    this.v6 = opts.family === 6;
    this.batch = new SlotBatch(pool);
    this.rOffs = new Int32Array(b);
    this.rLens = new Int32Array(b);
    this.rAddrs = new Uint32Array(this.v6 ? b * 4 : b);
    this.rPorts = new Int32Array(b);
    this.rGso = new Int32Array(b);
    const w = pool.slotCount * 64;
    this.wOffs = new Int32Array(w);
    this.wLens = new Int32Array(w);
    this.wSegs = new Int32Array(w);
    this.framing = wire.framing;
    this.sg = opts.vnet && opts.sg && !this.framing;
    // A packet is at most a header and MAX_MERGED_SEGMENTS ranges; sized for a full batch of
    // merges, flushed early if a batch of tiny datagrams needs more.
    this.iovs = new IovList(this.sg ? w * 2 : 0, this.sg ? w : 0);
    // Half the pool (at most a batch) receives; the rest is for output (GRO merges, copies).
    const recv = Math.min(b, pool.slotCount - Math.ceil(pool.slotCount / 2));
    this.nRecv = pool.acquireResident(this.rOffs, recv, 'RxEngine');
  }

  private refreshPeers(): void {
    const v = this.table.version();
    if (v === this.tableVersion) return;
    const snap = this.table.snapshot(this.entries, this.own6);
    this.senders.clear();
    if (this.v6) {
      this.refreshPeers6(snap.count, snap.ownLen6);
      this.tableVersion = snap.version;
      return;
    }
    for (let i = 0; i < snap.count; i++) {
      const e = this.entries[i]!;
      const mask = maskOf(e.prefixLen);
      // Keyed by the address as an int32: a Uint32Array element above 2^31 is a double, which
      // Map.get would box into a new heap number for every datagram.
      this.senders.set(e.publicIp | 0, {
        port: e.port,
        net: (e.subnetIp & mask) >>> 0,
        mask,
        next: this.senders.get(e.publicIp | 0),
      });
    }
    this.ownValid = snap.ownLen >= 0;
    this.ownMask = this.ownValid ? maskOf(snap.ownLen) : 0xffffffff;
    this.ownNet = (snap.ownIp & this.ownMask) >>> 0;
    this.tableVersion = snap.version;
  }

  private refreshPeers6(count: number, ownLen6: number): void {
    this.senders6.clear();
    for (let i = 0; i < count; i++) {
      const e = this.entries[i]!;
      const a = e.publicIp6;
      if (!a || !e.subnetIp6 || e.prefixLen6 === undefined) continue;
      const len = e.prefixLen6;
      const mask = Uint32Array.from([0, 1, 2, 3], (k) => maskWord6(len, k));
      const net = Uint32Array.from([0, 1, 2, 3], (k) => (e.subnetIp6![k]! & mask[k]!) >>> 0);
      const key = senderKey6(a[0]!, a[1]!, a[2]!, a[3]!);
      this.senders6.set(key, { addr: a, net, mask, next: this.senders6.get(key) });
    }
    this.ownValid = ownLen6 >= 0;
    for (let k = 0; k < 4; k++) {
      this.ownMask6[k] = this.ownValid ? maskWord6(ownLen6, k) : 0xffffffff;
      this.ownNet6[k] = (this.own6[k]! & this.ownMask6[k]!) >>> 0;
    }
  }

  /** The first IPv6 sender entry for datagram i's source (its chain holds every subnet it may speak for). */
  private sender6(i: number): Sender6 | undefined {
    const r = this.rAddrs;
    const at = i * 4;
    const w0 = r[at]!;
    const w1 = r[at + 1]!;
    const w2 = r[at + 2]!;
    const w3 = r[at + 3]!;
    for (let s = this.senders6.get(senderKey6(w0, w1, w2, w3)); s; s = s.next) {
      const a = s.addr;
      if (a[0] === w0 && a[1] === w1 && a[2] === w2 && a[3] === w3) return s;
    }
    return undefined;
  }

  /** One batch; returns the number of UDP messages received (0 on timeout). */
  step(timeoutMs: number): number {
    this.refreshPeers();
    const { pool } = this;
    this.nWrite = 0;
    this.coOpen = false;
    this.outSlot = -1;
    // Receive slots leave headroom for the virtio_net_hdr, so a lone packet needs no move.
    const n = this.udp.recv(
      pool.slab,
      this.rOffs,
      this.rLens,
      this.nRecv,
      pool.dataCapacity,
      this.rAddrs,
      this.rPorts,
      this.rGso,
      timeoutMs,
    );
    if (n > 0) {
      this.counters[C.rxBatches]! += 1;
      for (let i = 0; i < n; i++) this.message(i);
      this.framing?.openAccepted(pool.slab, this.counters, this.deliverFramed, this.deliverFramed6);
      this.closeCoalesced();
      this.flushWrites();
    }
    this.batch.releaseAll();
    return n;
  }

  private message(i: number): void {
    const counters = this.counters;
    const len = this.rLens[i]!;
    if (len > this.pool.dataCapacity) {
      counters[drop('oversized')]! += 1;
      return;
    }
    // max(len, 1): an empty datagram is one (too short) segment, not 0/0 segments
    const seg = this.rGso[i]! > 0 ? this.rGso[i]! : Math.max(len, 1);
    const framing = this.framing;
    if (framing) {
      // Known by its session, not its address: the framing checks every datagram itself.
      const base = this.rOffs[i]!;
      const addrAt = this.v6 ? i * 4 : i;
      const port = this.rPorts[i]!;
      for (let off = 0; off < Math.max(len, 1); off += seg) {
        const v = framing.accept(
          this.pool.slab,
          base + off,
          Math.min(seg, len - off),
          this.rAddrs,
          addrAt,
          port,
        );
        if (v >= 0) counters[dropIndex('rx', v)]! += 1;
      }
      return;
    }
    if (this.v6) {
      this.message6(i, len, seg);
      return;
    }
    const sender = this.senders.get(this.rAddrs[i]! | 0);
    if (!sender || (this.wire.senderPortFixed && sender.port !== this.rPorts[i]!)) {
      counters[drop('unknown_sender')]! += Math.max(1, Math.ceil(len / seg));
      return;
    }
    const base = this.rOffs[i]!;
    if (len === 0) counters[drop('too_short')]! += 1; // the loop below has nothing to check
    for (let off = 0; off < len; off += seg)
      this.datagram(base + off, Math.min(seg, len - off), sender, seg === len);
  }

  /** An IPv6 engine's message: the sender by its PublicIPv6 (the VXLAN wire keys by address only). */
  private message6(i: number, len: number, seg: number): void {
    const sender = this.sender6(i);
    if (!sender) {
      this.counters[drop('unknown_sender')]! += Math.max(1, Math.ceil(len / seg));
      return;
    }
    const base = this.rOffs[i]!;
    if (len === 0) this.counters[drop('too_short')]! += 1;
    const wire = this.wire;
    const h = wire.headerLen;
    for (let off = 0; off < len; off += seg) {
      const dgram = base + off;
      const wireLen = Math.min(seg, len - off);
      if (h > 0) {
        const verdict = wire.decapsulate(this.pool.slab, dgram, wireLen);
        if (verdict !== WIRE_OK) {
          this.counters[dropIndex('rx', verdict)]! += 1;
          continue;
        }
      }
      this.inner6(
        dgram + h,
        wireLen - h,
        sender,
        seg === len || h >= VNET_HDR_LEN,
        SPOOFED_SOURCE,
        sender.addr,
      );
    }
  }

  /**
   * An inner IPv6 packet's checks (source in `sender`'s subnets, destination in ours) and its way
   * to the TUN. `addr`: the sender's PublicIPv6, whose chain entries count (others share the
   * lookup key only); undefined for a framed wire's peer, whose chain is all its own.
   */
  private inner6(
    pkt: number,
    len: number,
    sender: AllowedNet6,
    alone: boolean,
    badSource: number,
    addr: Uint32Array | undefined,
  ): void {
    const slab = this.pool.slab;
    const counters = this.counters;
    if (len > this.opts.maxPacket) {
      counters[drop('oversized')]! += 1;
      return;
    }
    const verdict = checkIpv6(slab, pkt, len);
    if (verdict !== Verdict6.Ok) {
      counters[VERDICT6_DROP[verdict]!]! += 1;
      return;
    }
    let from: AllowedNet6 | undefined = sender;
    // Chain entries of another address share the key only: the address must match too.
    while (
      from &&
      !((!addr || sameAddr6((from as Sender6).addr, addr)) && inNet6(slab, pkt + SRC6, from.net, from.mask))
    )
      from = from.next;
    if (!from) {
      counters[badSource]! += 1;
      return;
    }
    if (!this.ownValid || !inNet6(slab, pkt + DST6, this.ownNet6, this.ownMask6)) {
      counters[drop('wrong_destination')]! += 1;
      return;
    }
    if (!decrementHopLimit(slab, pkt)) {
      counters[drop('ttl_expired')]! += 1;
      return;
    }
    if (this.wire.innerChecksumMayBePartial && completePartialL4v6(slab, pkt, len, this.sum))
      counters[C.rxChecksumsCompleted]! += 1;
    this.deliver(pkt, len, alone);
  }

  private datagram(dgram: number, wireLen: number, sender: Sender, alone: boolean): void {
    const slab = this.pool.slab;
    const counters = this.counters;
    const wire = this.wire;
    const h = wire.headerLen;
    if (h > 0) {
      const verdict = wire.decapsulate(slab, dgram, wireLen);
      if (verdict !== WIRE_OK) {
        counters[dropIndex('rx', verdict)]! += 1;
        return;
      }
      // The header in front of a datagram inside a GRO message is its own, no longer needed: it
      // has room for the vnet header as a lone datagram's headroom does.
      alone ||= h >= VNET_HDR_LEN;
    }
    this.inner(dgram + h, wireLen - h, sender, alone, SPOOFED_SOURCE);
  }

  /** The inner packet's checks (its source must be in `sender`'s nets) and its way to the TUN. */
  private inner(pkt: number, len: number, sender: AllowedNet, alone: boolean, badSource: number): void {
    const slab = this.pool.slab;
    const counters = this.counters;
    const wire = this.wire;
    if (len > this.opts.maxPacket) {
      counters[drop('oversized')]! += 1; // larger than the TUN MTU: no peer of ours sends that
      return;
    }
    const verdict = checkIpv4(slab, pkt, len);
    if (verdict !== Verdict.Ok) {
      counters[VERDICT_DROP[verdict]!]! += 1;
      return;
    }
    const src = srcOf(slab, pkt);
    let from: AllowedNet | undefined = sender;
    while (from && (src & from.mask) >>> 0 !== from.net) from = from.next;
    if (!from) {
      counters[badSource]! += 1;
      return;
    }
    if (!this.ownValid || (dstOf(slab, pkt) & this.ownMask) >>> 0 !== this.ownNet) {
      counters[drop('wrong_destination')]! += 1;
      return;
    }
    if (!decrementTtl(slab, pkt)) {
      counters[drop('ttl_expired')]! += 1;
      return;
    }
    if (wire.innerChecksumMayBePartial && completePartialL4(slab, pkt, len, this.sum))
      counters[C.rxChecksumsCompleted]! += 1;
    this.deliver(pkt, len, alone);
  }

  /** A checked inner packet to the TUN: as it is, merged with the open one, or copied. */
  private deliver(pkt: number, len: number, alone: boolean): void {
    const slab = this.pool.slab;
    const counters = this.counters;
    counters[C.rxPackets]! += 1;
    counters[C.rxBytes]! += len;
    if (!this.opts.vnet) {
      if (alone) this.queueWrite(pkt, len, 1);
      else this.copyOut(pkt, len);
      return;
    }
    if (this.sg) {
      this.datagramSg(pkt, len, alone);
      return;
    }
    if (this.coOpen && this.co.tryAppend(slab, pkt, len)) return;
    this.closeCoalesced();
    if (alone && this.pool.headroom >= VNET_HDR_LEN && coalescibleHeaderLen(slab, pkt, len) === 0) {
      // Nothing can merge with it (an echo, a UDP datagram, a pure ACK): its vnet header goes in
      // the receive slot's headroom and it is written from there, uncopied.
      writeEmptyVnetHdr(slab, pkt - VNET_HDR_LEN);
      this.queueWrite(pkt - VNET_HDR_LEN, len + VNET_HDR_LEN, 1);
      return;
    }
    const at = this.reserveOut(VNET_HDR_LEN + len);
    if (at < 0) return;
    this.coOpen = true;
    this.coBase = at;
    this.co.open(slab, at, this.outRoom(), slab, pkt, len);
  }

  /** Scatter-gather: merge into the open packet, or write it as a header plus its range. */
  private datagramSg(pkt: number, len: number, alone: boolean): void {
    const slab = this.pool.slab;
    if (this.coOpen && this.rco.tryAppend(slab, pkt, len)) return;
    this.closeCoalesced();
    if (coalescibleHeaderLen(slab, pkt, len) > 0) {
      this.rco.open(slab, pkt, len);
      this.coOpen = true;
      return;
    }
    if (!this.iovs.fits(1, 2)) this.flushWrites();
    if (alone && this.pool.headroom >= VNET_HDR_LEN) {
      writeEmptyVnetHdr(slab, pkt - VNET_HDR_LEN);
      this.iovs.begin();
      this.iovs.add(pkt - VNET_HDR_LEN, len + VNET_HDR_LEN);
      return;
    }
    // Inside a GRO message the bytes before it are the previous datagram's: the vnet header goes
    // into a header slot instead.
    const at = this.reserveOut(VNET_HDR_LEN);
    if (at < 0) return;
    writeEmptyVnetHdr(slab, at);
    this.outPos += 16;
    this.iovs.begin();
    this.iovs.add(at, VNET_HDR_LEN);
    this.iovs.add(pkt, len);
  }

  private closeCoalescedSg(): void {
    const segs = this.rco.segments;
    if (!this.iovs.fits(1, 1 + MAX_MERGED_SEGMENTS)) this.flushWrites();
    const at = this.reserveOut(MERGED_HEADER_MAX);
    if (at < 0) {
      this.rco.discard(); // counted by reserveOut
      return;
    }
    const h = this.rco.finish(this.pool.slab, at);
    this.outPos += (h + 7) & ~7;
    if (segs > 1) this.counters[C.rxMerged]! += 1;
    const iovs = this.iovs;
    iovs.begin();
    iovs.add(at, h);
    const { offs, lens } = this.rco;
    for (let r = 0; r < this.rco.rangeCount; r++) iovs.add(offs[r]!, lens[r]!);
  }

  /** Offset of `need` free bytes at the output cursor (a new slot when the current one is full); -1 when the pool is empty. */
  private reserveOut(need: number): number {
    const size = this.pool.slotSize;
    if (this.outSlot < 0 || size - this.outPos < need) {
      const s = this.batch.take();
      if (s < 0) {
        this.counters[drop('tun_write_error')]! += 1;
        return -1;
      }
      this.outSlot = s;
      this.outPos = 0;
    }
    return this.pool.offsetOf(this.outSlot) + this.outPos;
  }

  private outRoom(): number {
    return this.pool.slotSize - this.outPos;
  }

  private copyOut(pkt: number, len: number): void {
    const dst = this.reserveOut(len);
    if (dst < 0) return;
    this.pool.slab.copyWithin(dst, pkt, pkt + len);
    this.outPos += (len + 7) & ~7;
    this.queueWrite(dst, len, 1);
  }

  private closeCoalesced(): void {
    if (!this.coOpen) return;
    if (this.sg) {
      this.closeCoalescedSg();
      this.coOpen = false;
      return;
    }
    const segs = this.co.segments;
    const n = this.co.finish();
    if (segs > 1) this.counters[C.rxMerged]! += 1;
    this.queueWrite(this.coBase, n, segs);
    this.outPos += (n + 7) & ~7;
    this.coOpen = false;
  }

  private queueWrite(off: number, len: number, segs: number): void {
    if (this.nWrite === this.wOffs.length) this.flushWrites();
    this.wOffs[this.nWrite] = off;
    this.wLens[this.nWrite] = len;
    this.wSegs[this.nWrite++] = segs;
  }

  private flushWrites(): void {
    if (this.sg) {
      this.flushWritesSg();
      return;
    }
    if (this.nWrite === 0) return;
    this.errs[0] = 0;
    this.tun.write(this.pool.slab, this.wOffs, this.wLens, this.nWrite, this.errs);
    this.counters[C.rxSyscalls]! += this.nWrite;
    if (this.errs[0]! > 0) this.counters[drop('tun_write_error')]! += this.errs[0]!;
    this.nWrite = 0;
  }

  private flushWritesSg(): void {
    const iovs = this.iovs;
    if (iovs.packets === 0) return;
    this.errs[0] = 0;
    this.tun.writev(this.pool.slab, iovs, iovs.packets, this.errs);
    this.counters[C.rxSyscalls]! += iovs.packets;
    if (this.errs[0]! > 0) this.counters[drop('tun_write_error')]! += this.errs[0]!;
    iovs.reset();
  }
}

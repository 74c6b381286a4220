/**
 * TUN → UDP, one batch per step():
 *   1. acquire read slots, read a batch from the TUN (with a virtio_net_hdr when offloads are on)
 *   2. per packet: IPv4 check, longest-prefix peer lookup (none: ICMP net unreachable back into
 *      the TUN), TTL decrement; a TSO super-packet is split into MSS segments and queued as one
 *      UDP_SEGMENT message; a partial checksum is completed in place. Scatter-gather (opts.sg):
 *      only the segments' headers are built, in a small header slot, and the message's iovecs
 *      alternate them with the payload ranges left in the TUN read slot. Copying (the fallback):
 *      the segments are written whole into a fresh slot.
 *   3. one sendmmsg for the whole batch; one write batch for the ICMP replies
 *   4. release every slot the batch took
 * The wire format (encap/udp/wire/wire.ts) adds its header in front of every packet or segment: in
 * the read slot's headroom, in a gap splitTcp4 leaves before each segment, or (scatter-gather)
 * in a gap segmentTcp4 leaves before each segment's header, so the two are one iovec.
 * A wire with per-packet framing (WireGuard: wire.ts `framing`) writes its header, padding and tag
 * per packet or segment instead, seals the batch in one call before the send, and may hold packets
 * of a peer whose session is not up yet (forwarded once it is: takeReleased).
 * An IPv6 engine (opts.family 6: the VXLAN wire's flannel-v6.<VNI>, the WireGuard wire's
 * flannel-wg-v6, over an AF_INET6 socket)
 * takes the same steps on inner IPv6 packets: version and length check, longest-prefix lookup of
 * the destination in the peers' IPv6 subnets (route-table6.ts), hop-limit decrement, checksum
 * completion; its peers' addresses are four words each in the send arrays. Its TUN offers no TSO6
 * (open-queues.ts enables TSO4 only), so it never sees a super-packet; a destination without a
 * peer is counted (no_route) without an ICMPv6 reply.
 * Per-packet problems are counted by reason, never thrown. Nothing is allocated per packet.
 */
import { constants } from 'node:os';
import { decrementTtl, dstOf } from '../packet/ipv4-packet.js';
import { decrementHopLimit, DST6, IPV6_HEADER } from '../packet/ipv6-packet.js';
import { buildNetUnreachable, ICMP_UNREACH_MAX, wantsUnreachable } from '../packet/icmp-unreachable.js';
import {
  chunkSums16,
  completeChecksum,
  SEGMENT_BAD,
  SEGMENT_NO_ROOM,
  segmentTcp4,
  splitTcp4,
  type ChunkSumFn,
  type SegmentPlan,
  type SplitResult,
  type SumFn,
} from '../packet/tcp-gso.js';
import {
  GSO_NONE,
  GSO_TCPV4,
  newVnetHdr,
  readVnetHdr,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  writeEmptyVnetHdr,
} from '../packet/vnet-hdr.js';
import { SlotBatch, type SlotPool } from '../pool.js';
import { UDP_WIRE } from './wire/udp-wire.js';
import type { PacketFraming, Wire } from './wire/wire.js';
import { C, dropIndex, reasonIndex, type DropReason } from './counters.js';
import type { TunIo, UdpIo } from '../../sys/batch-io.js';
import { IovList } from './iov-list.js';
import { RouteTable } from './route-table.js';
import { RouteTable6 } from './route-table6.js';
import type { PeerEntry, SharedPeerTable } from './peer-table.js';

/** EIO, EINVAL, EOPNOTSUPP: what a kernel or device that cannot do UDP GSO answers. */
const refusesGso = (errno: number): boolean => errno === 5 || errno === 22 || errno === 95;

/** UDP payloads above this are refused by the kernel (64 KiB minus IP/UDP headers, with margin). */
const MAX_UDP_MESSAGE = 65000;
const MAX_GSO_SEGMENTS = 64;
/** Segments one TSO packet may be cut into (64 KiB at the smallest MSS the kernel allows, 88). */
const MAX_SPLIT = 1024;

export interface EngineOptions {
  /** TUN opened with IFF_VNET_HDR (offloads on). */
  readonly vnet: boolean;
  /** Use UDP_SEGMENT for split super-packets. */
  readonly gso: boolean;
  /** Packets per batch (1 = the plain per-packet path). */
  readonly batch: number;
  /** Largest inner packet accepted from the wire (the TUN MTU). */
  readonly maxPacket: number;
  /** Scatter-gather: GSO segments and GRO merges as iovecs instead of copies (with vnet only). */
  readonly sg: boolean;
  /**
   * Inner packets and underlay of this engine: 4 (default) IPv4 over an AF_INET socket, 6 IPv6
   * over an AF_INET6 one (peers by their IPv6 fields: peer-table.ts; addresses four words each).
   */
  readonly family?: 4 | 6;
}

/** A route's peer: where to send, and what the wire header needs (its VtepMAC). */
type Peer = PeerEntry;

const drop = (r: DropReason): number => dropIndex('tx', reasonIndex(r));
const ETIMEDOUT = constants.errno.ETIMEDOUT;

export class TxEngine {
  private readonly routes = new RouteTable<Peer>();
  private readonly routes6 = new RouteTable6<Peer>();
  /** An IPv6 engine (opts.family 6), and the words per address in the send arrays (1 or 4). */
  private readonly v6: boolean;
  private readonly addrWords: number;
  private tableVersion = -1;
  private ownIp = 0;
  private readonly entries: PeerEntry[] = [];
  private gso: boolean;
  private readonly hdr = newVnetHdr();
  private readonly split: SplitResult = { count: 0, stride: 0, bytes: 0 };
  private readonly plan: SegmentPlan = { count: 0, hdrLen: 0, mss: 0, payloadOff: 0, payloadLen: 0 };
  private readonly sums = new Uint32Array(MAX_SPLIT);
  private readonly sg: boolean;
  /** Scatter-gather messages (sg): message i's iovecs; its peer, gso and segments in sAddrs.. below. */
  private readonly iovs: IovList;
  /** Header slot being filled (sg), and the next free byte in it. */
  private hdrSlot = -1;
  private hdrPos = 0;
  // batch state, allocated once
  /** Split and ICMP slots this batch took (read slots are the engine's own, below). */
  private readonly batch: SlotBatch;
  /**
   * TUN read slots, taken once and kept: acquiring and releasing 64 slots around every read was
   * most of a one-packet step's bookkeeping, and on a cold CPU each touched line costs.
   */
  private readonly nRead: number;
  private readonly inOffs: Int32Array;
  private readonly inLens: Int32Array;
  private readonly sOffs: Int32Array;
  private readonly sLens: Int32Array;
  private readonly sAddrs: Uint32Array;
  private readonly sPorts: Int32Array;
  private readonly sGso: Int32Array;
  private readonly sSegs: Int32Array;
  private nSend = 0;
  private readonly wOffs: Int32Array;
  private readonly wLens: Int32Array;
  private nWrite = 0;
  private readonly errs = new Int32Array(2);
  private readonly framing: PacketFraming | undefined;

  constructor(
    private readonly opts: EngineOptions,
    private readonly pool: SlotPool,
    private readonly table: SharedPeerTable,
    private readonly tun: TunIo,
    private readonly udp: UdpIo,
    private readonly counters: Float64Array,
    private readonly sum: SumFn,
    private readonly chunkSum: ChunkSumFn = chunkSums16,
    private readonly wire: Wire = UDP_WIRE,
  ) {
    if (pool.headroom < wire.headerLen)
      throw new RangeError(`TxEngine: slot headroom ${pool.headroom} < wire header ${wire.headerLen}`);
    this.gso = opts.gso;
    this.framing = wire.framing;
    this.v6 = opts.family === 6;
    this.addrWords = this.v6 ? 4 : 1;
    // A framed wire's tag follows each segment's payload: no room in the read slot, so no scatter-gather.
    this.sg = opts.vnet && opts.sg && !this.framing;
    const b = opts.batch;
    this.batch = new SlotBatch(pool);
    this.inOffs = new Int32Array(b);
    this.inLens = new Int32Array(b);
    // One super-packet may need several messages (64 KiB UDP limit); size for the worst case.
    const maxSend = b * 8 + 2 * MAX_GSO_SEGMENTS;
    this.sOffs = new Int32Array(maxSend);
    this.sLens = new Int32Array(maxSend);
    this.sAddrs = new Uint32Array(maxSend * this.addrWords);
    this.sPorts = new Int32Array(maxSend);
    this.sGso = new Int32Array(maxSend);
    this.sSegs = new Int32Array(maxSend);
    this.iovs = new IovList(this.sg ? maxSend * 2 : 0, this.sg ? maxSend : 0);
    this.wOffs = new Int32Array(b);
    this.wLens = new Int32Array(b);
    this.nRead = pool.acquireResident(this.inOffs, b, 'TxEngine');
  }

  get gsoEnabled(): boolean {
    return this.gso;
  }

  private refreshPeers(): void {
    const v = this.table.version();
    if (v === this.tableVersion) return;
    const snap = this.table.snapshot(this.entries);
    this.routes.clear();
    this.routes6.clear();
    for (let i = 0; i < snap.count; i++) {
      const e = this.entries[i]!;
      if (this.v6) {
        if (e.subnetIp6 && e.publicIp6 && e.prefixLen6 !== undefined)
          this.routes6.set(e.subnetIp6, e.prefixLen6, this.framing ? this.framing.peerOf(e) : { ...e });
        continue;
      }
      // Entries are reused by the next snapshot; a framed wire routes to its own live peer object.
      this.routes.set(e.subnetIp, e.prefixLen, this.framing ? this.framing.peerOf(e) : { ...e });
    }
    this.ownIp = snap.ownIp;
    this.tableVersion = snap.version;
  }

  /** One batch; returns the number of packets read from the TUN (0 on timeout). */
  step(timeoutMs: number): number {
    this.refreshPeers();
    const { pool, counters } = this;
    const slab = pool.slab;
    this.nSend = 0;
    this.nWrite = 0;
    this.iovs.reset();
    this.hdrSlot = -1;
    const framing = this.framing;
    if (framing) this.forwardReleased(framing);
    // Packets land after each read slot's headroom, so nothing has to move later; a framed wire's
    // padding and tag go after them.
    const cap = pool.dataCapacity - (framing ? framing.trailerMax : 0);
    const n = this.tun.read(slab, this.inOffs, this.inLens, this.nRead, cap, timeoutMs);
    if (n > 0) {
      counters[C.txBatches]! += 1;
      for (let i = 0; i < n; i++) this.forward(this.inOffs[i]!, this.inLens[i]!);
      this.flush();
    }
    this.batch.releaseAll();
    return n;
  }

  /**
   * Packets the framing held while their peer's handshake ran, forwarded as if just read: each
   * copied into a slot of its own and sent at once (a few per handshake), so a later split that
   * empties the pool never reuses the slot a packet is still in.
   */
  private forwardReleased(framing: PacketFraming): void {
    const held = framing.takeReleased();
    if (!held) return;
    const pool = this.pool;
    for (const p of held) {
      const slot = this.batch.take();
      if (slot < 0 || p.length > pool.dataCapacity - framing.trailerMax) {
        this.counters[drop('send_error')]! += 1;
        continue;
      }
      const at = pool.dataOffsetOf(slot);
      pool.slab.set(p, at);
      this.forward(at, p.length);
      this.flush();
      this.batch.releaseAll();
    }
  }

  private forward(base: number, len: number): void {
    const slab = this.pool.slab;
    const counters = this.counters;
    let pkt = base;
    let plen = len;
    let gsoType = GSO_NONE;
    if (this.opts.vnet) {
      if (len < VNET_HDR_LEN) {
        counters[drop('bad_vnet_header')]! += 1;
        return;
      }
      readVnetHdr(slab, base, this.hdr);
      pkt = base + VNET_HDR_LEN;
      plen = len - VNET_HDR_LEN;
      gsoType = this.hdr.gsoType & 0x7f;
    }
    if (this.v6) {
      this.forward6(pkt, plen, gsoType);
      return;
    }
    // Only the cheap checks: the kernel built this packet. Its total length may be a TSO one.
    if (plen < 20) {
      counters[drop('too_short')]! += 1;
      return;
    }
    if (slab[pkt]! >>> 4 !== 4) {
      counters[drop('not_ipv4')]! += 1;
      return;
    }
    if ((slab[pkt]! & 0x0f) < 5) {
      counters[drop('bad_ihl')]! += 1;
      return;
    }
    const peer = this.routes.lookup(dstOf(slab, pkt));
    if (!peer) {
      counters[drop('no_route')]! += 1;
      this.unreachable(pkt);
      return;
    }
    const framing = this.framing;
    if (framing && !framing.canSend(peer)) {
      framing.hold(slab, base, len, peer); // before the TTL: it is forwarded again later
      return;
    }
    if (!decrementTtl(slab, pkt)) {
      counters[drop('ttl_expired')]! += 1;
      return;
    }
    if (gsoType === GSO_TCPV4) {
      if (framing) return this.sendSplitFramed(pkt, plen, peer, framing);
      if (this.sg) this.sendSegments(pkt, plen, peer);
      else this.sendSplit(pkt, plen, peer);
      return;
    }
    if (gsoType !== GSO_NONE) {
      counters[drop('bad_vnet_header')]! += 1; // USO/TSO6 are never enabled
      return;
    }
    this.sendWhole(pkt, plen, peer, framing);
  }

  /** A packet that goes as one datagram: its offloaded checksum finished, then framed or wire-headed. */
  private sendWhole(pkt: number, plen: number, peer: Peer, framing: PacketFraming | undefined): void {
    const slab = this.pool.slab;
    if (this.opts.vnet && this.hdr.flags & VNET_F_NEEDS_CSUM) {
      if (!completeChecksum(slab, pkt, plen, this.hdr.csumStart, this.hdr.csumOffset, this.sum)) {
        this.counters[drop('bad_vnet_header')]! += 1;
        return;
      }
    }
    const h = this.wire.headerLen;
    if (framing) {
      this.queueSend(pkt - h, framing.frame(slab, pkt - h, plen, peer), peer, 0, 1);
      return;
    }
    // The wire header goes in the headroom in front of the packet (the vnet header's, once read).
    if (h > 0) this.wire.encapsulate(slab, pkt - h, peer);
    this.queueSend(pkt - h, plen + h, peer, 0, 1);
  }

  /** An IPv6 engine's packet: the kernel built it, so the cheap checks only; never a super-packet. */
  private forward6(pkt: number, plen: number, gsoType: number): void {
    const slab = this.pool.slab;
    const counters = this.counters;
    if (plen < IPV6_HEADER) {
      counters[drop('too_short')]! += 1;
      return;
    }
    if (slab[pkt]! >>> 4 !== 6) {
      counters[drop('not_ipv6')]! += 1;
      return;
    }
    const peer = this.routes6.lookup(slab, pkt + DST6);
    if (!peer) {
      counters[drop('no_route')]! += 1;
      return;
    }
    const framing = this.framing;
    if (framing && !framing.canSend(peer)) {
      // The packet as read (vnet header included), before the hop limit: it is forwarded again later.
      const hdr = this.opts.vnet ? VNET_HDR_LEN : 0;
      framing.hold(slab, pkt - hdr, plen + hdr, peer);
      return;
    }
    if (!decrementHopLimit(slab, pkt)) {
      counters[drop('ttl_expired')]! += 1;
      return;
    }
    if (gsoType !== GSO_NONE) {
      counters[drop('bad_vnet_header')]! += 1; // TSO6 is never enabled
      return;
    }
    this.sendWhole(pkt, plen, peer, framing);
  }

  /** Message i's destination address: one word, or an IPv6 engine's four. */
  private setAddr(i: number, peer: Peer): void {
    if (!this.v6) {
      this.sAddrs[i] = peer.publicIp;
      return;
    }
    const a = peer.publicIp6!;
    const at = i * 4;
    this.sAddrs[at] = a[0]!;
    this.sAddrs[at + 1] = a[1]!;
    this.sAddrs[at + 2] = a[2]!;
    this.sAddrs[at + 3] = a[3]!;
  }

  /** The peer a queued message goes to, rebuilt from the send arrays (the GSO fallback's resend). */
  private peerOfMessage(i: number): Peer {
    const peer: Peer = { publicIp: this.sAddrs[i]!, port: this.sPorts[i]!, subnetIp: 0, prefixLen: 0 };
    if (this.v6) peer.publicIp6 = this.sAddrs.slice(i * 4, i * 4 + 4);
    return peer;
  }

  private sendSplit(pkt: number, plen: number, peer: Peer): void {
    const out = this.batch.take();
    if (out < 0) {
      // Pool empty: send what we have, then reuse the split slots (read slots are not in the
      // batch: later packets of this batch are in them).
      this.flush();
      this.batch.releaseAll();
    }
    const slot = out >= 0 ? out : this.batch.take();
    if (slot < 0) {
      this.counters[drop('send_error')]! += 1;
      return;
    }
    const pool = this.pool;
    const dst = pool.offsetOf(slot);
    const h = this.wire.headerLen;
    const slab = pool.slab;
    if (!splitTcp4(slab, pkt, plen, this.hdr.gsoSize, slab, dst, pool.slotSize, this.sum, this.split, h)) {
      this.counters[drop('bad_vnet_header')]! += 1;
      return;
    }
    this.counters[C.txSuperPackets]! += 1;
    const { count, stride, bytes } = this.split;
    // Each segment's stride starts with the gap splitTcp4 left for the wire header.
    if (h > 0) for (let i = 0; i < count; i++) this.wire.encapsulate(slab, dst + i * stride, peer);
    if (!this.gso) {
      for (let i = 0; i < count; i++) {
        const len = i === count - 1 ? bytes - i * stride : stride;
        this.queueSend(dst + i * stride, len, peer, 0, 1);
      }
      return;
    }
    const perMsg = Math.max(1, Math.min(MAX_GSO_SEGMENTS, Math.floor(MAX_UDP_MESSAGE / stride)));
    for (let i = 0; i < count; i += perMsg) {
      const segs = Math.min(perMsg, count - i);
      const start = dst + i * stride;
      const len = i + segs >= count ? dst + bytes - start : segs * stride;
      this.queueSend(start, len, peer, segs > 1 ? stride : 0, segs);
    }
  }

  /**
   * A framed wire's split (copying): splitTcp4 leaves a gap before each segment sized so that
   * segment i's header, padded plaintext and tag end exactly where segment i+1's header begins —
   * header and trailer share the gap — so the messages of one super-packet lie back to back, all
   * of one wire length but the last: one UDP_SEGMENT send per 64 of them, nothing moved.
   */
  private sendSplitFramed(pkt: number, plen: number, peer: Peer, framing: PacketFraming): void {
    const slab = this.pool.slab;
    const ihl = (slab[pkt]! & 0x0f) * 4;
    const full = ihl + (slab[pkt + ihl + 12]! >>> 4) * 4 + this.hdr.gsoSize; // a full segment's bytes
    const h = this.wire.headerLen;
    const gap = framing.wireLen(full) - full; // header + padding + tag
    let slot = this.batch.take();
    if (slot < 0) {
      this.flush();
      this.batch.releaseAll();
      slot = this.batch.take();
    }
    if (slot < 0) {
      this.counters[drop('send_error')]! += 1;
      return;
    }
    const pool = this.pool;
    const dst = pool.offsetOf(slot);
    const cap = pool.slotSize - framing.trailerMax;
    if (!splitTcp4(slab, pkt, plen, this.hdr.gsoSize, slab, dst, cap, this.sum, this.split, gap)) {
      this.counters[drop('bad_vnet_header')]! += 1;
      return;
    }
    this.counters[C.txSuperPackets]! += 1;
    const { count, stride, bytes } = this.split;
    const first = dst + gap - h; // segment 0's message
    const perMsg = this.gso
      ? Math.max(1, Math.min(MAX_GSO_SEGMENTS, Math.floor(MAX_UDP_MESSAGE / stride)))
      : 1;
    for (let i = 0; i < count; i += perMsg) {
      const segs = Math.min(perMsg, count - i);
      let len = 0;
      for (let k = i; k < i + segs; k++) {
        const inner = k === count - 1 ? bytes - k * stride - gap : stride - gap;
        len += framing.frame(slab, first + k * stride, inner, peer);
      }
      this.queueSend(first + i * stride, len, peer, segs > 1 ? stride : 0, segs);
    }
  }

  /**
   * Scatter-gather GSO: the segments' headers go into a header slot, their payloads stay in the
   * read slot; each message's iovecs alternate the two.
   */
  private sendSegments(pkt: number, plen: number, peer: Peer): void {
    const slab = this.pool.slab;
    const wireLen = this.wire.headerLen;
    let wrote = SEGMENT_NO_ROOM;
    for (let attempt = 0; attempt < 3 && wrote === SEGMENT_NO_ROOM; attempt++) {
      if (attempt === 1) {
        this.hdrSlot = this.batch.take();
        this.hdrPos = 0;
      } else if (attempt === 2) {
        // Pool empty: send what is queued (its headers are in the batch's slots), then reuse them.
        this.flush();
        this.batch.releaseAll();
        this.hdrSlot = this.batch.take();
        this.hdrPos = 0;
      }
      if (this.hdrSlot < 0) continue;
      const at = this.pool.offsetOf(this.hdrSlot) + this.hdrPos;
      // Each segment's header gets a gap in front for its wire header: one iovec for both.
      const room = this.pool.slotSize - this.hdrPos;
      wrote = segmentTcp4(
        slab,
        pkt,
        plen,
        this.hdr.gsoSize,
        slab,
        at,
        room,
        this.sums,
        this.chunkSum,
        this.plan,
        wireLen,
      );
    }
    if (wrote === SEGMENT_BAD) {
      this.counters[drop('bad_vnet_header')]! += 1;
      return;
    }
    if (wrote === SEGMENT_NO_ROOM) {
      this.counters[drop('send_error')]! += 1;
      return;
    }
    const hdrs = this.pool.offsetOf(this.hdrSlot) + this.hdrPos;
    this.hdrPos += (wrote + 7) & ~7;
    this.counters[C.txSuperPackets]! += 1;
    const { count, hdrLen, mss, payloadOff, payloadLen } = this.plan;
    // Segment k's first iovec is its wire header and IP/TCP header, side by side: a separate
    // iovec for the wire header cost ~8 % more in sendmsg+recvmsg (docs/udp-datapath.md).
    const head = wireLen + hdrLen;
    if (wireLen > 0) this.writeWireHeaders(hdrs, head, count, peer);
    const stride = head + mss;
    const perMsg = this.gso
      ? Math.max(1, Math.min(MAX_GSO_SEGMENTS, Math.floor(MAX_UDP_MESSAGE / stride)))
      : 1;
    for (let i = 0; i < count; i += perMsg) {
      const segs = Math.min(perMsg, count - i);
      if (!this.iovs.fits(1, 2 * segs) || this.nSend === this.sOffs.length) this.flushSends();
      this.iovs.begin();
      let bytes = 0;
      for (let k = i; k < i + segs; k++) {
        const len = k === count - 1 ? payloadLen - k * mss : mss;
        this.iovs.add(hdrs + k * head, head);
        this.iovs.add(payloadOff + k * mss, len);
        bytes += head + len;
      }
      this.queueMessage(bytes, peer, segs > 1 ? stride : 0, segs);
    }
  }

  /** The wire header into the gap in front of each of `count` segment headers, `step` apart. */
  private writeWireHeaders(at: number, step: number, count: number, peer: Peer): void {
    const slab = this.pool.slab;
    const w = this.wire.headerLen;
    this.wire.encapsulate(slab, at, peer);
    // The same bytes for every segment (the header depends on the peer only): copy the first.
    for (let k = 1; k < count; k++) {
      const to = at + k * step;
      for (let j = 0; j < w; j++) slab[to + j] = slab[at + j]!;
    }
  }

  /** Records the peer, GSO size and segment count of the scatter-gather message begun last. */
  private queueMessage(bytes: number, peer: Peer, gso: number, segs: number): void {
    const i = this.nSend++;
    this.sOffs[i] = -1; // the message is in this.iovs
    this.sLens[i] = bytes;
    this.setAddr(i, peer);
    this.sPorts[i] = peer.port;
    this.sGso[i] = gso;
    this.sSegs[i] = segs;
  }

  private queueSend(off: number, len: number, peer: Peer, gso: number, segs: number): void {
    if (this.sg) {
      // The payload stays where it is until the send: flushing early is safe here.
      if (!this.iovs.fits(1, 1) || this.nSend === this.sOffs.length) this.flushSends();
      this.iovs.begin();
      this.iovs.add(off, len);
      this.queueMessage(len, peer, gso, segs);
      return;
    }
    // Sized so a batch never fills it (b * 8 messages + a GSO fallback's segments).
    if (this.nSend === this.sOffs.length) {
      this.counters[drop('send_error')]! += segs;
      return;
    }
    const i = this.nSend++;
    this.sOffs[i] = off;
    this.sLens[i] = len;
    this.setAddr(i, peer);
    this.sPorts[i] = peer.port;
    this.sGso[i] = gso;
    this.sSegs[i] = segs;
  }

  private unreachable(pkt: number): void {
    const slab = this.pool.slab;
    if (!wantsUnreachable(slab, pkt) || this.ownIp === 0) return;
    const slot = this.batch.take();
    if (slot < 0) return;
    const base = this.pool.offsetOf(slot);
    let off = base;
    if (this.opts.vnet) {
      writeEmptyVnetHdr(slab, base);
      off += VNET_HDR_LEN;
    }
    if (this.pool.slotSize < ICMP_UNREACH_MAX + VNET_HDR_LEN) return;
    const n = buildNetUnreachable(slab, pkt, slab, off, this.ownIp);
    this.wOffs[this.nWrite] = base;
    this.wLens[this.nWrite++] = n + (off - base);
    this.counters[C.icmpUnreachable]! += 1;
  }

  private flush(): void {
    this.flushSends();
    if (this.nWrite > 0) {
      this.errs[0] = 0;
      this.tun.write(this.pool.slab, this.wOffs, this.wLens, this.nWrite, this.errs);
      this.nWrite = 0;
    }
  }

  private flushSends(): void {
    if (this.framing && !this.framing.sealFramed(this.pool.slab)) {
      // Never a byte in clear on the underlay: the whole queue goes, counted.
      for (let i = 0; i < this.nSend; i++) this.counters[drop('crypto_error')]! += this.sSegs[i]!;
      this.nSend = 0;
      return;
    }
    if (this.sg) {
      this.flushSendsSg();
      return;
    }
    const counters = this.counters;
    let from = 0;
    while (from < this.nSend) {
      const n = this.nSend - from;
      const sent = this.udp.send(
        this.pool.slab,
        this.sOffs,
        this.sLens,
        from,
        n,
        this.sAddrs,
        this.sPorts,
        this.sGso,
      );
      counters[C.txSyscalls]! += 1;
      if (sent === -ETIMEDOUT) {
        // The socket stayed full for the whole of the native call's deadline: drop the rest of the
        // batch at once; waiting again for each message would hold the worker (and close()).
        for (let i = from; i < this.nSend; i++) counters[drop('send_timeout')]! += this.sSegs[i]!;
        break;
      }
      if (sent < 0) {
        if (this.gso && this.sGso[from]! > 0) {
          // The kernel or driver refuses UDP_SEGMENT (EIO on some): resend this message as single datagrams.
          this.gso = false;
          counters[C.gsoDisabled] = 1;
          this.resendWithoutGso(from);
          from++;
          continue;
        }
        counters[drop('send_error')]! += this.sSegs[from]!;
        from++;
        continue;
      }
      for (let i = from; i < from + sent; i++) {
        counters[C.txPackets]! += this.sSegs[i]!;
        counters[C.txBytes]! += this.sLens[i]!;
      }
      if (sent < n) counters[drop('send_error')]! += this.sSegs[from + sent]!;
      from += Math.max(sent, 1);
    }
    this.nSend = 0;
  }

  private resendWithoutGso(i: number): void {
    // Once per process life (GSO is then off): re-queue the message's segments as single datagrams.
    const stride = this.sGso[i]!;
    const segs = this.sSegs[i]!;
    const off = this.sOffs[i]!;
    const total = this.sLens[i]!;
    const peer = this.peerOfMessage(i);
    if (this.nSend + segs > this.sOffs.length) {
      this.counters[drop('send_error')]! += segs;
      return;
    }
    for (let k = 0; k < segs; k++)
      this.queueSend(off + k * stride, k === segs - 1 ? total - k * stride : stride, peer, 0, 1);
  }

  private flushSendsSg(): void {
    const counters = this.counters;
    let from = 0;
    // Each round sends at least one message or counts one dropped: at most nSend rounds.
    while (from < this.nSend) {
      const n = this.nSend - from;
      const sent = this.udp.sendv(this.pool.slab, this.iovs, from, n, this.sAddrs, this.sPorts, this.sGso);
      counters[C.txSyscalls]! += 1;
      if (sent <= 0) {
        if (this.gso && this.sGso[from]! > 0 && refusesGso(-sent)) {
          this.gso = false;
          counters[C.gsoDisabled] = 1;
          this.resendSegmentsWithoutGso(from);
        } else counters[drop('send_error')]! += this.sSegs[from]!;
        from++;
        continue;
      }
      for (let i = from; i < from + sent; i++) {
        counters[C.txPackets]! += this.sSegs[i]!;
        counters[C.txBytes]! += this.sLens[i]!;
      }
      // Fewer than asked: a call's limit or an error on the next one; the next call tells which.
      from += sent;
    }
    this.nSend = 0;
    this.iovs.reset();
  }

  /** Once per process life (GSO is then off): message i's segments again, one message each. */
  private resendSegmentsWithoutGso(i: number): void {
    const segs = this.sSegs[i]!;
    const iovs = this.iovs;
    const first = iovs.first[i]!;
    const peer = this.peerOfMessage(i);
    // A segment is (wire header +) IP+TCP header, then payload: 2 iovecs.
    const per = 2;
    if (!iovs.fits(segs, per * segs) || this.nSend + segs > this.sOffs.length) {
      this.counters[drop('send_error')]! += segs;
      return;
    }
    for (let k = 0; k < segs; k++) {
      const h = first + per * k;
      iovs.begin();
      let bytes = 0;
      for (let j = h; j < h + per; j++) {
        iovs.add(iovs.offs[j]!, iovs.lens[j]!);
        bytes += iovs.lens[j]!;
      }
      this.queueMessage(bytes, peer, 0, 1);
    }
  }
}

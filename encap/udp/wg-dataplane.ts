/**
 * The WireGuard data plane of one interface, in the datapath worker beside the engines: the
 * framing the engines call per packet (wire/wire.ts PacketFraming), the sessions the control
 * plane hands over, and the glue between the two. Keys live here and in the control plane only:
 * both run in this one worker thread, so no key crosses a thread after start.
 *
 *   tx  cryptokey routing is the engine's route table (peer subnets → peers); canSend() asks for
 *       the peer's current session (younger than Reject-After-Time); a peer without one gets a
 *       handshake (control.wantSession) and its packets are held, a few, until the session is up;
 *       frame() writes the type-4 header with the next counter and zero padding and queues the
 *       message; sealFramed() encrypts the batch in one native call (sys/wg-aead.ts).
 *   rx  accept() diverts types 1–3 to an inbox the control plane drains after the batch, checks a
 *       type-4 message's length, receiver index, session age and counter (against the replay
 *       window, without moving it) and queues it; openAccepted() decrypts the batch in one call,
 *       then per message: tag verified, replay window moved (a duplicate inside one batch fails
 *       here), the responder's next session confirmed, the endpoint updated (roaming), keepalives
 *       counted, and the inner packet handed to the engine with the peer's allowed IPs.
 *   service()  after each engine step: table changes → peers, handshakes → control plane,
 *       control timers (tick), its actions (send a handshake message, install or expire a session,
 *       send a keepalive), the sent/received notes that drive the timers.
 *
 * On an IPv6 engine (family 6: flannel-wg-v6) the same, with the peers' IPv6 fields (publicIp6,
 * subnetIp6/prefixLen6: peer-table.ts), endpoints as four words (address6), and inner IPv6
 * packets delivered with the peer's IPv6 allowed nets: the WireGuard messages themselves are the
 * same bytes on either underlay.
 *
 * Every refusal is a drop reason (counters.ts), counted here or by the engine.
 */
import { C, dropIndex, reasonIndex, type DropReason } from './counters.js';
import type { PeerEntry, SharedPeerTable } from './peer-table.js';
import type { UdpIo } from '../../sys/batch-io.js';
import { formatIpv4, maskOf } from '../../core/ipv4.js';
import { formatIpv6 } from '../../core/ipv6.js';
import { ipOfWords6, maskWord6 } from '../../core/ipv6-words.js';
import { IPV6_HEADER } from '../packet/ipv6-packet.js';
import {
  COOKIE_REPLY_LEN,
  INITIATION_LEN,
  messageType,
  MSG_INITIATION,
  MSG_RESPONSE,
  paddedLength,
  readLe32,
  RESPONSE_LEN,
  TAG_LEN,
  TRAILER_MAX,
  TRANSPORT_HEADER_LEN,
  TRANSPORT_MIN_LEN,
  writeTransportHeader,
} from './wire/wireguard-wire.js';
import {
  FRAMING_CONSUMED,
  WIRE_OK,
  type AllowedNet,
  type AllowedNet6,
  type DeliverFn,
  type DeliverFn6,
  type PacketFraming,
} from './wire/wire.js';

/** Batched ChaCha20-Poly1305 in place (sys/wg-aead.ts; its contract in WG-DESIGN.md). */
export interface BatchAead {
  sealBatch(
    keys: Uint8Array,
    keyIdx: Int32Array,
    counters: BigUint64Array,
    slab: Uint8Array,
    off: Int32Array,
    len: Int32Array,
    n: number,
  ): void;
  openBatch(
    keys: Uint8Array,
    keyIdx: Int32Array,
    counters: BigUint64Array,
    slab: Uint8Array,
    off: Int32Array,
    len: Int32Array,
    ok: Uint8Array,
    n: number,
  ): number;
}

/** A sliding replay window over one session's counters (protocol/replay-window.ts). */
export interface CounterWindow {
  /** Whether `n` may be new: not seen, not too far behind. Changes nothing. */
  mayAccept(n: number): boolean;
  /** Marks `n` seen; false when it was seen already or is too far behind. */
  accept(n: number): boolean;
}

/** An endpoint: an IPv4 address in host order, or (IPv6 engine) address 0 and the four words. */
export interface Endpoint {
  readonly address: number;
  readonly port: number;
  readonly address6?: Uint32Array;
}

export interface SessionKeys {
  readonly peer: string;
  readonly localIndex: number;
  readonly remoteIndex: number;
  readonly sendKey: Uint8Array;
  readonly recvKey: Uint8Array;
  /** Ours to send with at once (we initiated); else only after the initiator's first message. */
  readonly isInitiator: boolean;
  readonly createdAtMs: number;
}

/** The control plane's actions (protocol/control.ts WgAction, with IPv4 endpoints as numbers). */
export type ControlAction =
  | { readonly send: Uint8Array; readonly to: Endpoint }
  | { readonly session: SessionKeys }
  | { readonly confirm: { readonly peer: string; readonly localIndex: number } }
  | { readonly expire: { readonly peer: string; readonly localIndex: number } }
  | { readonly keepalive: string }
  | { readonly endpoint: { readonly peer: string; readonly endpoint: Endpoint } }
  | { readonly flush: string };

/** What the data plane needs of the control plane (protocol/control.ts, adapted in wg-control.ts). */
export interface ControlPort {
  setPeers(
    peers: readonly {
      publicKey: Uint8Array;
      endpoint: Endpoint | undefined;
      allowedIps: readonly string[];
    }[],
  ): readonly ControlAction[];
  /** A type 1–3 message: the actions, or the drop reason when it is refused. */
  receiveHandshake(
    bytes: Uint8Array,
    from: Endpoint,
  ): { actions: readonly ControlAction[]; drop?: DropReason };
  tick(nowMs: number): readonly ControlAction[];
  noteTransportSent(peer: string, count: number, keepalive: boolean): readonly ControlAction[];
  /** A message on the session `localIndex` authenticated (the last of a batch; keepalive: all were). */
  noteTransportReceived(localIndex: number, from: Endpoint, keepalive: boolean): readonly ControlAction[];
  wantSession(peer: string): readonly ControlAction[];
}

export interface DataplaneOptions {
  /** The TUN MTU: plaintext is padded up to it, never past. */
  readonly mtu: number;
  /** Reject-After-Time in ms (180 s; shorter only under OVERLAYD_TEST_WG_TIMERS). */
  readonly rejectAfterMs: number;
  readonly now: () => number;
  readonly newWindow: () => CounterWindow;
  /** 6: the data plane of an IPv6 engine (flannel-wg-v6); 4 when absent. */
  readonly family?: 4 | 6;
}

/** Packets held per peer while its handshake runs (wireguard-go stages more; a handshake is ~1 RTT). */
export const HELD_PER_PEER = 32;
/** Handshake messages taken per service pass; more are dropped (handshake_flood). */
const INBOX_MAX = 512;
/** An inbox this full when a pass starts means a flood: cookie replies for the next second. */
const UNDER_LOAD_BACKLOG = 32;
const UNDER_LOAD_MS = 1000;
/** The control plane's timers run at this granularity (its shortest timer is seconds). */
const TICK_MS = 100;
/** Keepalives a service pass sends in one seal call and one send; more wait for the next pass. */
const KEEPALIVE_BATCH = 64;
/** Messages sealed per native call at most; frame() seals early when a batch is bigger. */
const SEAL_JOBS = 4096;
/**
 * Reject-After-Messages is 2^64 − 2^13 − 1; counters here are doubles, exact to 2^53, which no
 * session reaches (2^53 messages at 10 M/s take 28 years, sessions last 180 s).
 */
const COUNTER_LIMIT = Number.MAX_SAFE_INTEGER - 8192;

class Keypair {
  sendCounter = 0;
  constructor(
    readonly peer: WgPeer,
    readonly localIndex: number,
    readonly remoteIndex: number,
    readonly sendSlot: number,
    readonly recvSlot: number,
    readonly createdAtMs: number,
    readonly window: CounterWindow,
  ) {}
}

/** A peer's live state; the engine's route table points at it (its publicIp/port roam). */
class WgPeer implements PeerEntry {
  subnetIp = 0;
  prefixLen = 0;
  publicIp = 0;
  port = 0;
  /** Endpoint from the lease (roaming moves publicIp/port; a new lease endpoint resets them). */
  leaseIp = 0;
  leasePort = 0;
  allowed: AllowedNet | undefined;
  /** IPv6 engine: the endpoint's address (roams in place), the lease's, the subnet and allowed nets. */
  publicIp6: Uint32Array | undefined;
  leaseIp6: Uint32Array | undefined;
  subnetIp6: Uint32Array | undefined;
  prefixLen6: number | undefined;
  allowed6: AllowedNet6 | undefined;
  current: Keypair | undefined;
  previous: Keypair | undefined;
  /** A responder's new session, usable once the initiator's first message arrives on it. */
  next: Keypair | undefined;
  held: Uint8Array[] = [];
  /** A keepalive is owed this service pass (sent at its end with the others: flushKeepalives). */
  keepaliveDue = false;
  sent = 0;
  /** Since the last service pass: the session last received on (-1: none), and whether data came. */
  recvIndex = -1;
  recvData = false;
  asked = false;
  constructor(
    readonly id: string,
    readonly publicKey: Uint8Array,
  ) {}
}

export class WgDataplane implements PacketFraming {
  readonly trailerMax = TRAILER_MAX;
  private readonly peers = new Map<string, WgPeer>();
  private readonly byIndex = new Map<number, Keypair>();
  private tableVersion = -1;
  private readonly entries: PeerEntry[] = [];
  private keys = new Uint8Array(32 * 64);
  private readonly freeSlots: number[] = [];
  private slotCount = 0;
  private nowMs: number;
  private lastTick = -Infinity;
  private underLoadUntil = -Infinity;
  // tx seal batch
  private readonly sKey = new Int32Array(SEAL_JOBS);
  private readonly sCtr = new BigUint64Array(SEAL_JOBS);
  private readonly sCtr32 = new Uint32Array(this.sCtr.buffer);
  private readonly sOff = new Int32Array(SEAL_JOBS);
  private readonly sLen = new Int32Array(SEAL_JOBS);
  private nSeal = 0;
  private slabOfSeal: Uint8Array | undefined;
  /** An early seal of this batch failed: the whole batch must not leave (part of it is plaintext). */
  private sealFailed = false;
  // rx open batch
  private readonly oKey: Int32Array;
  private readonly oCtr: BigUint64Array;
  private readonly oCtr32: Uint32Array;
  private readonly oOff: Int32Array;
  private readonly oLen: Int32Array;
  private readonly oOk: Uint8Array;
  private readonly oPair: (Keypair | undefined)[];
  private readonly oAddr: Uint32Array;
  private readonly oPort: Int32Array;
  private nOpen = 0;
  /** An IPv6 engine's data plane; its address arrays hold four words per endpoint. */
  private readonly v6: boolean;
  private readonly words: number;
  private readonly inbox: { bytes: Uint8Array; from: Endpoint }[] = [];
  private released: Uint8Array[] | undefined;
  private readonly touched = new Set<WgPeer>();
  // control messages and keepalives go out from a small slab of their own
  private readonly cSlab = new Uint8Array(4096);
  private readonly cOff = new Int32Array(1);
  private readonly cLen = new Int32Array(1);
  private readonly cAddr = new Uint32Array(4);
  private readonly cPort = new Int32Array(1);
  private readonly cGso = new Int32Array(1);
  // keepalives owed this pass: framed, sealed (one call) and sent (one sendmmsg) at its end
  private readonly kDue: WgPeer[] = [];
  private readonly kSlab = new Uint8Array(KEEPALIVE_BATCH * TRANSPORT_MIN_LEN);
  private readonly kKey = new Int32Array(KEEPALIVE_BATCH);
  private readonly kCtr = new BigUint64Array(KEEPALIVE_BATCH);
  private readonly kCtr32 = new Uint32Array(this.kCtr.buffer);
  private readonly kOff = new Int32Array(KEEPALIVE_BATCH);
  private readonly kLen = new Int32Array(KEEPALIVE_BATCH);
  private readonly kAddr = new Uint32Array(KEEPALIVE_BATCH * 4);
  private readonly kPort = new Int32Array(KEEPALIVE_BATCH);
  private readonly kGso = new Int32Array(KEEPALIVE_BATCH);
  private readonly kPeer: (WgPeer | undefined)[] = new Array<WgPeer | undefined>(KEEPALIVE_BATCH).fill(
    undefined,
  );

  constructor(
    private readonly opts: DataplaneOptions,
    private readonly table: SharedPeerTable,
    private readonly control: ControlPort,
    private readonly aead: BatchAead,
    private readonly udp: UdpIo,
    private readonly counters: Float64Array,
    /** Datagrams one receive batch may hold (segments of GRO messages included). */
    openCapacity: number,
  ) {
    this.nowMs = opts.now();
    this.v6 = opts.family === 6;
    this.words = this.v6 ? 4 : 1;
    this.oKey = new Int32Array(openCapacity);
    this.oCtr = new BigUint64Array(openCapacity);
    this.oCtr32 = new Uint32Array(this.oCtr.buffer);
    this.oOff = new Int32Array(openCapacity);
    this.oLen = new Int32Array(openCapacity);
    this.oOk = new Uint8Array(openCapacity);
    this.oPair = new Array<Keypair | undefined>(openCapacity).fill(undefined);
    this.oAddr = new Uint32Array(openCapacity * this.words);
    this.oPort = new Int32Array(openCapacity);
  }

  /** Whether the control plane should answer initiations with cookie replies (a flood is on). */
  underLoad = (): boolean => this.nowMs < this.underLoadUntil || this.inbox.length >= UNDER_LOAD_BACKLOG;

  // ---- peers ------------------------------------------------------------------------------

  /** Re-reads the shared table when it changed: peers by public key, each with its subnets. */
  private sync(): void {
    const v = this.table.version();
    if (v === this.tableVersion) return;
    const snap = this.table.snapshot(this.entries);
    this.tableVersion = snap.version;
    const seen = new Set<WgPeer>();
    for (let i = 0; i < snap.count; i++) {
      const e = this.entries[i]!;
      if (!e.publicKey) continue;
      if (this.v6 && (!e.publicIp6 || !e.subnetIp6 || e.prefixLen6 === undefined)) continue;
      const id = Buffer.from(e.publicKey).toString('base64');
      let p = this.peers.get(id);
      if (!p) {
        p = new WgPeer(id, e.publicKey);
        this.peers.set(id, p);
      }
      if (!seen.has(p)) {
        seen.add(p);
        p.allowed = undefined;
        p.allowed6 = undefined;
        p.subnetIp = e.subnetIp;
        p.prefixLen = e.prefixLen;
        if (this.v6) this.syncEndpoint6(p, e);
        // A lease that moved its endpoint wins over a roamed one.
        else if (p.leaseIp !== e.publicIp || p.leasePort !== e.port) {
          p.leaseIp = p.publicIp = e.publicIp;
          p.leasePort = p.port = e.port;
        }
      }
      if (this.v6) p.allowed6 = allowedNet6(e.subnetIp6!, e.prefixLen6!, p.allowed6);
      else {
        const mask = maskOf(e.prefixLen);
        p.allowed = { net: (e.subnetIp & mask) >>> 0, mask, next: p.allowed };
      }
    }
    for (const [id, p] of this.peers)
      if (!seen.has(p)) {
        for (const kp of [p.current, p.previous, p.next]) if (kp) this.dropKeypair(kp);
        p.current = p.previous = p.next = undefined;
        if (p.held.length > 0) this.counters[dropIndex('tx', reasonIndex('no_session'))]! += p.held.length;
        p.held = [];
        this.peers.delete(id);
      }
    this.apply(
      this.control.setPeers(
        [...this.peers.values()].map((p) => ({
          publicKey: p.publicKey,
          endpoint: this.hasEndpoint(p) ? this.endpointOf(p) : undefined,
          allowedIps: this.v6 ? allowedText6(p.allowed6) : allowedText(p.allowed),
        })),
      ),
    );
  }

  /**
   * An IPv6 peer's entry: subnet and lease endpoint copied (the table's entries are reused by the
   * next snapshot); a lease that moved its endpoint wins over a roamed one.
   */
  private syncEndpoint6(p: WgPeer, e: PeerEntry): void {
    const a = e.publicIp6!;
    p.subnetIp6 = Uint32Array.from(e.subnetIp6!);
    p.prefixLen6 = e.prefixLen6!;
    if (p.leaseIp6 && sameWords(p.leaseIp6, a, 0) && p.leasePort === e.port) return;
    p.leaseIp6 = Uint32Array.from(a);
    p.publicIp6 = Uint32Array.from(a);
    p.leasePort = p.port = e.port;
  }

  /** Whether the peer has somewhere to send to (a lease endpoint, or one it roamed to). */
  private hasEndpoint(p: WgPeer): boolean {
    if (p.port === 0) return false;
    if (!this.v6) return p.publicIp !== 0;
    const a = p.publicIp6;
    return a !== undefined && (a[0]! | a[1]! | a[2]! | a[3]!) !== 0;
  }

  private endpointOf(p: WgPeer): Endpoint {
    return this.v6
      ? { address: 0, port: p.port, address6: Uint32Array.from(p.publicIp6 ?? new Uint32Array(4)) }
      : { address: p.publicIp, port: p.port };
  }

  /** Sets a peer's endpoint (the control plane's roaming, from a handshake). */
  private setEndpoint(p: WgPeer, e: Endpoint): void {
    p.port = e.port;
    if (!this.v6) p.publicIp = e.address;
    else if (e.address6) (p.publicIp6 ??= new Uint32Array(4)).set(e.address6);
  }

  /** Writes the peer's endpoint address as message i's in a send batch's address array. */
  private putAddr(addrs: Uint32Array, i: number, p: WgPeer): void {
    if (!this.v6) addrs[i] = p.publicIp;
    else addrs.set(p.publicIp6!, i * 4);
  }

  peerOf(e: PeerEntry): PeerEntry {
    this.sync();
    const p = e.publicKey && this.peers.get(Buffer.from(e.publicKey).toString('base64'));
    // An entry without a key cannot be a WireGuard peer: a stand-in that never has a session.
    return (
      p ||
      Object.assign(new WgPeer('', new Uint8Array(32)), {
        subnetIp: e.subnetIp,
        prefixLen: e.prefixLen,
        ...(this.v6 ? { publicIp6: new Uint32Array(4) } : {}),
      })
    );
  }

  // ---- tx ---------------------------------------------------------------------------------

  private usable(kp: Keypair | undefined): kp is Keypair {
    return (
      kp !== undefined &&
      this.nowMs - kp.createdAtMs < this.opts.rejectAfterMs &&
      kp.sendCounter < COUNTER_LIMIT
    );
  }

  canSend(peer: PeerEntry): boolean {
    const p = peer as WgPeer;
    if (this.usable(p.current)) return true;
    if (p.id !== '' && !p.asked) {
      p.asked = true; // once per batch: service() clears it
      this.apply(this.control.wantSession(p.id));
    }
    return false;
  }

  hold(slab: Uint8Array, off: number, len: number, peer: PeerEntry): void {
    const p = peer as WgPeer;
    if (p.id === '' || p.held.length >= HELD_PER_PEER) {
      this.counters[dropIndex('tx', reasonIndex('no_session'))]! += 1;
      return;
    }
    p.held.push(slab.slice(off, off + len));
    this.counters[C.wgHeld]! += 1;
  }

  takeReleased(): Uint8Array[] | undefined {
    const r = this.released;
    this.released = undefined;
    return r;
  }

  wireLen(inner: number): number {
    return TRANSPORT_HEADER_LEN + paddedLength(inner, this.opts.mtu) + TAG_LEN;
  }

  frame(slab: Uint8Array, at: number, inner: number, peer: PeerEntry): number {
    const p = peer as WgPeer;
    const kp = p.current!; // canSend() said so this batch
    if (this.nSeal === SEAL_JOBS || (this.slabOfSeal && this.slabOfSeal !== slab)) {
      if (!this.sealFramed(this.slabOfSeal!)) this.sealFailed = true; // reported at the batch's seal
    }
    const n = kp.sendCounter++;
    const lo = n >>> 0;
    const hi = Math.floor(n / 0x100000000);
    writeTransportHeader(slab, at, kp.remoteIndex, lo, hi);
    const body = at + TRANSPORT_HEADER_LEN;
    const padded = paddedLength(inner, this.opts.mtu);
    // At most 15 bytes: a loop, not TypedArray#fill, whose call into V8's C++ costs more than the
    // zeroing (several µs on a CPU that was idle, which is where a lone packet finds it).
    for (let k = body + inner; k < body + padded; k++) slab[k] = 0;
    const j = this.nSeal++;
    this.sKey[j] = kp.sendSlot;
    this.sCtr32[2 * j] = lo;
    this.sCtr32[2 * j + 1] = hi;
    this.sOff[j] = body;
    this.sLen[j] = padded;
    this.slabOfSeal = slab;
    p.sent++;
    this.touched.add(p);
    return TRANSPORT_HEADER_LEN + padded + TAG_LEN;
  }

  sealFramed(slab: Uint8Array): boolean {
    const n = this.nSeal;
    this.nSeal = 0;
    this.slabOfSeal = undefined;
    if (n > 0)
      try {
        this.aead.sealBatch(this.keys, this.sKey, this.sCtr, slab, this.sOff, this.sLen, n);
      } catch {
        // Stopped part-way (EAEADBATCH): some messages may still be plaintext. None leaves, and
        // the bytes are wiped so a later send of this slab cannot carry them either.
        for (let j = 0; j < n; j++) slab.fill(0, this.sOff[j]!, this.sOff[j]! + this.sLen[j]! + TAG_LEN);
        this.sealFailed = true;
      }
    const ok = !this.sealFailed;
    this.sealFailed = false;
    return ok;
  }

  // ---- rx ---------------------------------------------------------------------------------

  accept(
    slab: Uint8Array,
    at: number,
    len: number,
    addrs: Uint32Array,
    addrAt: number,
    port: number,
  ): number {
    const t = messageType(slab, at, len);
    if (t < 0) return -1 - t;
    if (t !== 4) {
      const want =
        t === MSG_INITIATION ? INITIATION_LEN : t === MSG_RESPONSE ? RESPONSE_LEN : COOKIE_REPLY_LEN;
      if (len < want) return reasonIndex('truncated');
      if (len > want) return reasonIndex('oversized');
      if (this.inbox.length >= INBOX_MAX) return reasonIndex('handshake_flood');
      const from: Endpoint = this.v6
        ? { address: 0, port, address6: addrs.slice(addrAt, addrAt + 4) }
        : { address: addrs[addrAt]!, port };
      this.inbox.push({ bytes: slab.slice(at, at + len), from });
      return FRAMING_CONSUMED;
    }
    if (len < TRANSPORT_MIN_LEN) return reasonIndex('truncated');
    if (len - TRANSPORT_MIN_LEN > this.opts.mtu) return reasonIndex('oversized');
    const kp = this.byIndex.get(readLe32(slab, at + 4) | 0);
    if (!kp) return reasonIndex('unknown_receiver_index');
    const lo = readLe32(slab, at + 8);
    const hi = readLe32(slab, at + 12);
    const n = hi * 0x100000000 + lo;
    if (hi >= 0x200000 || !kp.window.mayAccept(n)) return reasonIndex('replayed_counter');
    if (this.nowMs - kp.createdAtMs >= this.opts.rejectAfterMs) return reasonIndex('expired_session');
    if (this.nOpen === this.oKey.length) return reasonIndex('oversized'); // never: sized for a batch
    const j = this.nOpen++;
    this.oKey[j] = kp.recvSlot;
    this.oCtr32[2 * j] = lo;
    this.oCtr32[2 * j + 1] = hi;
    this.oOff[j] = at + TRANSPORT_HEADER_LEN;
    this.oLen[j] = len - TRANSPORT_HEADER_LEN;
    this.oPair[j] = kp;
    if (this.v6) this.oAddr.set(addrs.subarray(addrAt, addrAt + 4), j * 4);
    else this.oAddr[j] = addrs[addrAt]!;
    this.oPort[j] = port;
    return WIRE_OK;
  }

  openAccepted(slab: Uint8Array, counters: Float64Array, deliver: DeliverFn, deliver6: DeliverFn6): void {
    const n = this.nOpen;
    if (n === 0) return;
    this.nOpen = 0;
    // No zeroing of oOk first: openBatch writes ok[j] for every j < n (1 verified, else 0).
    try {
      this.aead.openBatch(this.keys, this.oKey, this.oCtr, slab, this.oOff, this.oLen, this.oOk, n);
    } catch {
      // Stopped part-way (EAEADBATCH): nothing of this batch is trusted.
      counters[dropIndex('rx', reasonIndex('crypto_error'))]! += n;
      this.oPair.fill(undefined, 0, n);
      return;
    }
    for (let j = 0; j < n; j++) {
      const kp = this.oPair[j]!;
      this.oPair[j] = undefined;
      if (this.oOk[j] !== 1) {
        counters[dropIndex('rx', reasonIndex('bad_tag'))]! += 1;
        continue;
      }
      if (!kp.window.accept(this.oCtr32[2 * j + 1]! * 0x100000000 + this.oCtr32[2 * j]!)) {
        counters[dropIndex('rx', reasonIndex('replayed_counter'))]! += 1;
        continue;
      }
      const p = kp.peer;
      if (p.next === kp) this.confirm(p, kp);
      this.roam(p, j, counters);
      p.recvIndex = kp.localIndex;
      this.touched.add(p);
      const pkt = this.oOff[j]!;
      const plain = this.oLen[j]! - TAG_LEN;
      if (plain === 0) {
        counters[C.wgKeepalivesReceived]! += 1;
        continue;
      }
      p.recvData = true;
      if (this.v6) {
        this.deliverOpened6(slab, pkt, plain, p, counters, deliver6);
        continue;
      }
      // The IPv4 total length says where the padding starts; the engine checks the rest.
      if (slab[pkt]! >>> 4 !== 4 || plain < 20) {
        counters[dropIndex('rx', reasonIndex(plain < 20 ? 'too_short' : 'not_ipv4'))]! += 1;
        continue;
      }
      const total = (slab[pkt + 2]! << 8) | slab[pkt + 3]!;
      if (total > plain) {
        counters[dropIndex('rx', reasonIndex('bad_length'))]! += 1;
        continue;
      }
      deliver(pkt, total, p.allowed ?? NOWHERE);
    }
  }

  /** Opened message j came from its address and port: authenticated, so the peer is there now. */
  private roam(p: WgPeer, j: number, counters: Float64Array): void {
    const port = this.oPort[j]!;
    if (this.v6) {
      const a = (p.publicIp6 ??= new Uint32Array(4));
      if (sameWords(a, this.oAddr, j * 4) && p.port === port) return;
      a.set(this.oAddr.subarray(j * 4, j * 4 + 4));
    } else {
      const addr = this.oAddr[j]!;
      if (p.publicIp === addr && p.port === port) return;
      p.publicIp = addr;
    }
    p.port = port;
    counters[C.wgRoamed]! += 1;
  }

  /** An opened inner IPv6 packet: the payload length says where the padding starts; the engine checks the rest. */
  private deliverOpened6(
    slab: Uint8Array,
    pkt: number,
    plain: number,
    p: WgPeer,
    counters: Float64Array,
    deliver6: DeliverFn6,
  ): void {
    if (plain < IPV6_HEADER || slab[pkt]! >>> 4 !== 6) {
      counters[dropIndex('rx', reasonIndex(plain < IPV6_HEADER ? 'too_short' : 'not_ipv6'))]! += 1;
      return;
    }
    const total = IPV6_HEADER + ((slab[pkt + 4]! << 8) | slab[pkt + 5]!);
    if (total > plain) {
      counters[dropIndex('rx', reasonIndex('bad_length'))]! += 1;
      return;
    }
    deliver6(pkt, total, p.allowed6 ?? NOWHERE6);
  }

  /** A responder's session is confirmed by the initiator's first message on it: it sends from now. */
  private confirm(p: WgPeer, kp: Keypair): void {
    if (p.previous) this.dropKeypair(p.previous);
    p.previous = p.current;
    p.current = kp;
    p.next = undefined;
    this.releaseHeld(p);
  }

  // ---- control ----------------------------------------------------------------------------

  /** After each engine step: the table, the handshakes received, the timers. */
  service(now: number): void {
    this.nowMs = now;
    this.sync();
    if (this.inbox.length >= UNDER_LOAD_BACKLOG) this.underLoadUntil = now + UNDER_LOAD_MS;
    const inbox = this.inbox.splice(0);
    for (const m of inbox) {
      const r = this.control.receiveHandshake(m.bytes, m.from);
      if (r.drop) this.counters[dropIndex('rx', reasonIndex(r.drop))]! += 1;
      else this.counters[C.wgHandshakesReceived]! += 1;
      this.apply(r.actions);
    }
    const touched = [...this.touched];
    this.touched.clear();
    for (const p of touched) {
      const sent = p.sent;
      const recvIndex = p.recvIndex;
      const recvData = p.recvData;
      p.sent = 0;
      p.recvIndex = -1;
      p.recvData = false;
      if (sent > 0) this.apply(this.control.noteTransportSent(p.id, sent, false));
      if (recvIndex >= 0)
        this.apply(this.control.noteTransportReceived(recvIndex, this.endpointOf(p), !recvData));
    }
    for (const p of this.peers.values()) p.asked = false;
    if (now - this.lastTick >= TICK_MS) {
      this.lastTick = now;
      this.apply(this.control.tick(now));
    }
    this.flushKeepalives();
  }

  /** Whether handshake messages wait for the control plane. */
  get hasInbox(): boolean {
    return this.inbox.length > 0;
  }

  /** Whether held packets wait for the tx engine (the worker then steps it without a TUN read). */
  get hasReleased(): boolean {
    return this.released !== undefined;
  }

  private apply(actions: readonly ControlAction[]): void {
    for (const a of actions) {
      if ('send' in a) this.sendControl(a.send, a.to);
      else if ('session' in a) this.install(a.session);
      else if ('confirm' in a) {
        const kp = this.byIndex.get(a.confirm.localIndex | 0);
        if (kp && kp.peer.next === kp) this.confirm(kp.peer, kp); // usually done already, on receipt
      } else if ('expire' in a) {
        const kp = this.byIndex.get(a.expire.localIndex | 0);
        if (kp && kp.peer.id === a.expire.peer) this.expire(kp);
      } else if ('keepalive' in a) {
        const p = this.peers.get(a.keepalive);
        // Held packets go first if the session can carry them; else an empty message.
        if (p && p.held.length > 0 && this.usable(p.current)) this.releaseHeld(p);
        else if (p) this.sendKeepalive(p);
      } else if ('endpoint' in a) {
        const p = this.peers.get(a.endpoint.peer);
        if (p) this.setEndpoint(p, a.endpoint.endpoint);
      } else if ('flush' in a) {
        const p = this.peers.get(a.flush);
        if (p && p.held.length > 0) {
          this.counters[dropIndex('tx', reasonIndex('no_session'))]! += p.held.length;
          p.held = [];
        }
      }
    }
  }

  private install(s: SessionKeys): void {
    const p = this.peers.get(s.peer);
    if (!p) return;
    const sendSlot = this.slot(s.sendKey);
    const recvSlot = this.slot(s.recvKey);
    const kp = new Keypair(
      p,
      s.localIndex,
      s.remoteIndex,
      sendSlot,
      recvSlot,
      s.createdAtMs,
      this.opts.newWindow(),
    );
    const old = this.byIndex.get(s.localIndex | 0);
    if (old) this.expire(old);
    this.byIndex.set(s.localIndex | 0, kp);
    this.counters[C.wgSessions]! += 1;
    if (s.isInitiator) {
      // Ours to use at once; the one it replaces still decrypts what is in flight.
      if (p.next) this.dropKeypair(p.next);
      p.next = undefined;
      if (p.previous) this.dropKeypair(p.previous);
      p.previous = p.current;
      p.current = kp;
      // The responder may send only after our first message: with nothing held, a keepalive.
      if (p.held.length === 0) this.sendKeepalive(p);
      this.releaseHeld(p);
    } else {
      if (p.next) this.dropKeypair(p.next);
      p.next = kp;
    }
  }

  private releaseHeld(p: WgPeer): void {
    if (p.held.length === 0) return;
    (this.released ??= []).push(...p.held);
    p.held = [];
  }

  private expire(kp: Keypair): void {
    const p = kp.peer;
    if (p.current === kp) p.current = undefined;
    if (p.previous === kp) p.previous = undefined;
    if (p.next === kp) p.next = undefined;
    this.dropKeypair(kp);
  }

  private dropKeypair(kp: Keypair): void {
    if (this.byIndex.get(kp.localIndex | 0) === kp) this.byIndex.delete(kp.localIndex | 0);
    this.freeSlot(kp.sendSlot);
    this.freeSlot(kp.recvSlot);
  }

  private slot(key: Uint8Array): number {
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.slotCount++;
      if (32 * this.slotCount > this.keys.length) {
        const grown = new Uint8Array(this.keys.length * 2);
        grown.set(this.keys);
        this.keys.fill(0);
        this.keys = grown;
      }
    }
    this.keys.set(key, 32 * s);
    return s;
  }

  private freeSlot(s: number): void {
    this.keys.fill(0, 32 * s, 32 * s + 32); // a dead session's key is gone, not just unused
    this.freeSlots.push(s);
  }

  private sendControl(bytes: Uint8Array, to: Endpoint): void {
    if (bytes.length > this.cSlab.length) return;
    this.cSlab.set(bytes, 0);
    this.sendFromControlSlab(bytes.length, to);
    this.counters[C.wgHandshakesSent]! += 1;
  }

  /**
   * An empty transport message on the current session, owed now: noted, and sent at the end of
   * this service pass together with every other peer's (flushKeepalives), one seal call and one
   * send for all of them instead of two native calls each. Without a session, a handshake.
   */
  private sendKeepalive(p: WgPeer): void {
    if (!this.usable(p.current)) {
      if (!p.asked) {
        p.asked = true;
        this.apply(this.control.wantSession(p.id));
      }
      return;
    }
    if (p.keepaliveDue) return; // one empty message says it as well as two
    p.keepaliveDue = true;
    this.kDue.push(p);
  }

  /**
   * The owed keepalives, framed only now, each on its peer's session as it is at the end of the
   * pass (a session expired or replaced meanwhile is never sealed with: its key slot may hold
   * another session's key by then), sealed in one call and sent in one.
   */
  private flushKeepalives(): void {
    const due = this.kDue.splice(0, KEEPALIVE_BATCH);
    let n = 0;
    for (const p of due) {
      p.keepaliveDue = false;
      const kp = p.current;
      if (!this.usable(kp) || !this.hasEndpoint(p)) continue; // no session, or nowhere to send
      const c = kp.sendCounter++;
      const lo = c >>> 0;
      const hi = Math.floor(c / 0x100000000);
      const at = n * TRANSPORT_MIN_LEN;
      writeTransportHeader(this.kSlab, at, kp.remoteIndex, lo, hi);
      this.kKey[n] = kp.sendSlot;
      this.kCtr32[2 * n] = lo;
      this.kCtr32[2 * n + 1] = hi;
      this.kOff[n] = at + TRANSPORT_HEADER_LEN;
      this.kLen[n] = 0;
      this.putAddr(this.kAddr, n, p);
      this.kPort[n] = p.port;
      this.kGso[n] = 0;
      this.kPeer[n++] = p;
    }
    if (n === 0) return;
    try {
      this.aead.sealBatch(this.keys, this.kKey, this.kCtr, this.kSlab, this.kOff, this.kLen, n);
    } catch {
      this.counters[dropIndex('tx', reasonIndex('crypto_error'))]! += n;
      this.kPeer.fill(undefined, 0, n);
      return;
    }
    for (let j = 0; j < n; j++) {
      this.kOff[j] = j * TRANSPORT_MIN_LEN;
      this.kLen[j] = TRANSPORT_MIN_LEN;
    }
    const sent = Math.max(
      0,
      this.udp.send(this.kSlab, this.kOff, this.kLen, 0, n, this.kAddr, this.kPort, this.kGso),
    );
    if (sent < n) this.counters[dropIndex('tx', reasonIndex('send_error'))]! += n - sent;
    for (let j = 0; j < n; j++) {
      const p = this.kPeer[j]!;
      this.kPeer[j] = undefined;
      if (j >= sent) continue;
      this.counters[C.wgKeepalivesSent]! += 1;
      this.apply(this.control.noteTransportSent(p.id, 1, true));
    }
  }

  private sendFromControlSlab(len: number, to: Endpoint): void {
    const a = to.address6;
    const none = this.v6 ? !a || (a[0]! | a[1]! | a[2]! | a[3]!) === 0 : to.address === 0;
    if (none || to.port === 0) return; // no endpoint known yet (a peer that never had one)
    this.cOff[0] = 0;
    this.cLen[0] = len;
    if (this.v6) this.cAddr.set(a!.subarray(0, 4));
    else this.cAddr[0] = to.address;
    this.cPort[0] = to.port;
    this.cGso[0] = 0;
    const sent = this.udp.send(this.cSlab, this.cOff, this.cLen, 0, 1, this.cAddr, this.cPort, this.cGso);
    if (sent !== 1) this.counters[dropIndex('tx', reasonIndex('send_error'))]! += 1;
  }
}

function allowedText(a: AllowedNet | undefined): string[] {
  const out: string[] = [];
  for (let n = a; n; n = n.next) {
    let len = 0;
    while (len < 32 && (n.mask << len) >>> 0 !== 0) len++;
    out.push(`${formatIpv4(n.net)}/${len}`);
  }
  return out;
}

/** A peer whose lease has no subnet (never routed to): every inner source is disallowed. */
const NOWHERE: AllowedNet = { net: 1, mask: 0xffffffff, next: undefined };
/** The same for an IPv6 peer: ::1/128 off the net never matches a source a peer can have. */
const NOWHERE6: AllowedNet6 = {
  net: Uint32Array.of(0, 0, 0, 1),
  mask: Uint32Array.of(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff),
  next: undefined,
};

const sameWords = (a: Uint32Array, b: Uint32Array, at: number): boolean =>
  a[0] === b[at] && a[1] === b[at + 1] && a[2] === b[at + 2] && a[3] === b[at + 3];

/** An IPv6 allowed net (the subnet's address masked to its length) in front of `next`. */
function allowedNet6(ip: Uint32Array, len: number, next: AllowedNet6 | undefined): AllowedNet6 {
  const mask = Uint32Array.from([0, 1, 2, 3], (k) => maskWord6(len, k));
  const net = Uint32Array.from([0, 1, 2, 3], (k) => (ip[k]! & mask[k]!) >>> 0);
  return { net, mask, next };
}

function allowedText6(a: AllowedNet6 | undefined): string[] {
  const out: string[] = [];
  for (let n = a; n; n = n.next) {
    let len = 0;
    for (let k = 0; k < 4; k++) for (let b = 31; b >= 0 && (n.mask[k]! >>> b) & 1; b--) len++;
    out.push(`${formatIpv6(ipOfWords6(n.net[0]!, n.net[1]!, n.net[2]!, n.net[3]!))}/${len}`);
  }
  return out;
}

/**
 * The peer set shared between the daemon (one writer) and the datapath workers (readers), in a
 * SharedArrayBuffer guarded by a sequence lock: the writer makes the version odd, writes, makes
 * it even; a reader copies the entries and retries if the version moved. Workers check the
 * version once per batch, so a peer change reaches the running datapath without stopping it.
 *
 * Layout (Int32 words): [0] version, [1] count, [2] own subnet ip, [3] own prefix len,
 * [4] stop flag, [5-8] own IPv6 subnet ip, [9] own IPv6 prefix len, then count × {subnet ip,
 * prefix len, public ip, port, MAC bytes 0-3, MAC bytes 4-5, WireGuard public key (8 words), IPv6
 * public ip (4 words), IPv6 subnet ip (4 words), IPv6 prefix len}. The MAC is the peer's VtepMAC
 * on the VXLAN wire (0 for the udp wire); the public key is the peer's on the WireGuard wire
 * (zeros otherwise). The IPv6 words are what an IPv6 engine (EngineOptions.family 6: the VXLAN
 * wire's flannel-v6.<VNI>) keys and routes by; an IPv4 engine never reads them. Each engine has a
 * table of its own: a dual-stack node publishes its v6 peers in a second one.
 */
import type { Ipv4Net } from '../../core/ipv4.js';

const HEADER = 16;
const ENTRY = 23;
const KEY = 6;
const KEY_WORDS = 8;
const PUB6 = 14;
const NET6 = 18;
const LEN6 = 22;
const OWN_IP6 = 5;
const OWN_LEN6 = 9;
export const VERSION = 0;
const COUNT = 1;
const OWN_IP = 2;
const OWN_LEN = 3;
export const STOP = 4;

export interface PeerEntry {
  subnetIp: number;
  prefixLen: number;
  publicIp: number;
  port: number;
  /** Peer's VtepMAC, bytes 0-3 big-endian (VXLAN wire; unset = 0). */
  macHi?: number;
  /** Peer's VtepMAC, bytes 4-5. */
  macLo?: number;
  /** Peer's WireGuard public key, 32 bytes (WireGuard wire; unset = none). */
  publicKey?: Uint8Array;
  /** IPv6 engine: the peer's PublicIPv6 as four words (core/ipv6-words.ts); unset = none. */
  publicIp6?: Uint32Array;
  /** IPv6 engine: the peer's IPv6 subnet address as four words. */
  subnetIp6?: Uint32Array;
  /** IPv6 engine: the peer's IPv6 subnet prefix length (-1 / unset = none). */
  prefixLen6?: number;
}

/** Our own IPv6 subnet, for an IPv6 engine's destination check. */
export interface Own6 {
  readonly ip: ArrayLike<number>;
  readonly prefixLen: number;
}

export class SharedPeerTable {
  readonly words: Int32Array;

  constructor(
    readonly capacity: number,
    sab: SharedArrayBuffer = new SharedArrayBuffer((HEADER + capacity * ENTRY) * 4),
  ) {
    this.words = new Int32Array(sab);
  }

  get buffer(): SharedArrayBuffer {
    return this.words.buffer as SharedArrayBuffer;
  }

  /** Writer side: replaces the whole table (own subnet and peers) in one locked update. */
  publish(own: Ipv4Net | undefined, peers: readonly PeerEntry[], own6?: Own6): void {
    if (peers.length > this.capacity)
      throw new RangeError(`peer table holds ${this.capacity} peers, got ${peers.length}`);
    // Everything is checked before the lock: a throw with the version odd would leave every
    // reader spinning in snapshot() on a write that never ends.
    peers.forEach(checkEntry);
    if (own6 && !isPrefixLen6(own6.prefixLen))
      throw new RangeError(`own IPv6 subnet: prefixLen must be an integer 0..128, got ${own6.prefixLen}`);
    if (own6 && own6.ip.length !== 4)
      throw new RangeError(`own IPv6 subnet: ip must be 4 words (core/ipv6-words.ts), got ${own6.ip.length}`);
    const w = this.words;
    Atomics.add(w, VERSION, 1); // odd: write in progress
    w[OWN_IP] = own ? own.ip | 0 : 0;
    w[OWN_LEN] = own ? own.prefixLen : -1;
    for (let k = 0; k < 4; k++) w[OWN_IP6 + k] = own6 ? own6.ip[k]! | 0 : 0;
    w[OWN_LEN6] = own6 ? own6.prefixLen : -1;
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i]!;
      const o = HEADER + i * ENTRY;
      w[o] = p.subnetIp | 0;
      w[o + 1] = p.prefixLen;
      w[o + 2] = p.publicIp | 0;
      w[o + 3] = p.port;
      w[o + 4] = (p.macHi ?? 0) | 0;
      w[o + 5] = p.macLo ?? 0;
      const k = p.publicKey;
      for (let j = 0; j < KEY_WORDS; j++)
        w[o + KEY + j] = k
          ? k[4 * j]! | (k[4 * j + 1]! << 8) | (k[4 * j + 2]! << 16) | (k[4 * j + 3]! << 24)
          : 0;
      for (let k = 0; k < 4; k++) {
        w[o + PUB6 + k] = (p.publicIp6?.[k] ?? 0) | 0;
        w[o + NET6 + k] = (p.subnetIp6?.[k] ?? 0) | 0;
      }
      w[o + LEN6] = p.prefixLen6 ?? -1;
    }
    w[COUNT] = peers.length;
    Atomics.add(w, VERSION, 1); // even: consistent
  }

  version(): number {
    return Atomics.load(this.words, VERSION);
  }

  requestStop(): void {
    Atomics.store(this.words, STOP, 1);
  }

  /** After the workers stopped, before new ones start (a datapath restart). */
  clearStop(): void {
    Atomics.store(this.words, STOP, 0);
  }

  stopRequested(): boolean {
    return Atomics.load(this.words, STOP) === 1;
  }

  /**
   * Reader side: a consistent copy. `into` is reused (grown only when the table grew); returns the
   * version read, the own subnet and the number of entries filled. `own6`, when given, gets our
   * IPv6 subnet's words (ownLen6 is its prefix length, -1 for none).
   */
  snapshot(
    into: PeerEntry[],
    own6?: Uint32Array,
  ): { version: number; ownIp: number; ownLen: number; ownLen6: number; count: number } {
    const w = this.words;
    for (;;) {
      const v1 = Atomics.load(w, VERSION);
      if (v1 & 1) continue;
      const count = w[COUNT]!;
      const ownIp = w[OWN_IP]! >>> 0;
      const ownLen = w[OWN_LEN]!;
      const ownLen6 = w[OWN_LEN6]!;
      if (own6) for (let k = 0; k < 4; k++) own6[k] = w[OWN_IP6 + k]! >>> 0;
      for (let i = 0; i < count; i++) {
        const o = HEADER + i * ENTRY;
        const e =
          into[i] ?? (into[i] = { subnetIp: 0, prefixLen: 0, publicIp: 0, port: 0, macHi: 0, macLo: 0 });
        e.subnetIp = w[o]! >>> 0;
        e.prefixLen = w[o + 1]!;
        e.publicIp = w[o + 2]! >>> 0;
        e.port = w[o + 3]!;
        e.macHi = w[o + 4]! >>> 0;
        e.macLo = w[o + 5]!;
        let any = 0;
        for (let j = 0; j < KEY_WORDS; j++) any |= w[o + KEY + j]!;
        if (any === 0) delete e.publicKey;
        else {
          // A fresh array: a reader may keep the entry's key past the next snapshot.
          const k = new Uint8Array(32);
          for (let j = 0; j < KEY_WORDS; j++) {
            const x = w[o + KEY + j]!;
            k[4 * j] = x & 0xff;
            k[4 * j + 1] = (x >>> 8) & 0xff;
            k[4 * j + 2] = (x >>> 16) & 0xff;
            k[4 * j + 3] = x >>> 24;
          }
          e.publicKey = k;
        }
        const len6 = w[o + LEN6]!;
        if (len6 < 0) {
          delete e.publicIp6;
          delete e.subnetIp6;
          delete e.prefixLen6;
        } else {
          // Fresh arrays, as the key: the tx engine keeps an entry's copy past the next snapshot.
          const pub = new Uint32Array(4);
          const net = new Uint32Array(4);
          for (let k = 0; k < 4; k++) {
            pub[k] = w[o + PUB6 + k]! >>> 0;
            net[k] = w[o + NET6 + k]! >>> 0;
          }
          e.publicIp6 = pub;
          e.subnetIp6 = net;
          e.prefixLen6 = len6;
        }
      }
      if (Atomics.load(w, VERSION) === v1) return { version: v1, ownIp, ownLen, ownLen6, count };
    }
  }
}

const isPrefixLen6 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 128;

/** Peer i can be written as it is (publish's check, made before the table is locked). */
function checkEntry(p: PeerEntry, i: number): void {
  const k = p.publicKey;
  if (k && k.length !== 32)
    throw new RangeError(`peer ${i}: a WireGuard public key has 32 bytes, got ${k.length}`);
  const len6 = p.prefixLen6 ?? -1;
  if (len6 === -1) return; // no IPv6 fields: an IPv4 engine's entry
  if (!isPrefixLen6(len6))
    throw new RangeError(
      `peer ${i}: prefixLen6 must be an integer 0..128 (-1 or unset: no IPv6 subnet), got ${len6}`,
    );
  for (const [name, a] of [
    ['publicIp6', p.publicIp6],
    ['subnetIp6', p.subnetIp6],
  ] as const)
    if (a?.length !== 4)
      throw new RangeError(
        `peer ${i}: ${name} must be 4 words (core/ipv6-words.ts) with prefixLen6 ${len6}, got ${a?.length ?? 'none'}`,
      );
}

/** The same peers with the same addresses: nothing for a reconcile to re-publish. */
export function samePeerSet(a: ReadonlyMap<string, PeerEntry>, b: ReadonlyMap<string, PeerEntry>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, e] of a) {
    const o = b.get(k);
    if (
      !o ||
      o.subnetIp !== e.subnetIp ||
      o.prefixLen !== e.prefixLen ||
      o.publicIp !== e.publicIp ||
      o.port !== e.port ||
      (o.macHi ?? 0) !== (e.macHi ?? 0) ||
      (o.macLo ?? 0) !== (e.macLo ?? 0) ||
      !sameKey(o.publicKey, e.publicKey) ||
      (o.prefixLen6 ?? -1) !== (e.prefixLen6 ?? -1) ||
      !sameWords(o.publicIp6, e.publicIp6) ||
      !sameWords(o.subnetIp6, e.subnetIp6)
    )
      return false;
  }
  return true;
}

function sameKey(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (!a || !b) return a === b;
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameWords(a: Uint32Array | undefined, b: Uint32Array | undefined): boolean {
  if (!a || !b) return a === b;
  for (let k = 0; k < 4; k++) if (a[k] !== b[k]) return false;
  return true;
}

/**
 * The peer set shared between the daemon (one writer) and the datapath workers (readers), in a
 * SharedArrayBuffer guarded by a sequence lock: the writer makes the version odd, writes, makes
 * it even; a reader copies the entries and retries if the version moved. Workers check the
 * version once per batch, so a peer change reaches the running datapath without stopping it.
 *
 * Layout (Int32 words): [0] version, [1] count, [2] own subnet ip, [3] own prefix len,
 * [4] stop flag, then count × {subnet ip, prefix len, public ip, port, MAC bytes 0-3, MAC bytes 4-5,
 * WireGuard public key (8 words)}. The MAC is the peer's VtepMAC on the VXLAN wire (0 for the udp
 * wire); the public key is the peer's on the WireGuard wire (zeros otherwise).
 */
import type { Ipv4Net } from '../../core/ipv4.js';

const HEADER = 8;
const ENTRY = 14;
const KEY = 6;
const KEY_WORDS = 8;
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
  publish(own: Ipv4Net | undefined, peers: readonly PeerEntry[]): void {
    if (peers.length > this.capacity)
      throw new RangeError(`peer table holds ${this.capacity} peers, got ${peers.length}`);
    const w = this.words;
    Atomics.add(w, VERSION, 1); // odd: write in progress
    w[OWN_IP] = own ? own.ip | 0 : 0;
    w[OWN_LEN] = own ? own.prefixLen : -1;
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
      if (k && k.length !== 32) throw new RangeError(`a WireGuard public key has 32 bytes, got ${k.length}`);
      for (let j = 0; j < KEY_WORDS; j++)
        w[o + KEY + j] = k
          ? k[4 * j]! | (k[4 * j + 1]! << 8) | (k[4 * j + 2]! << 16) | (k[4 * j + 3]! << 24)
          : 0;
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
   * version read, the own subnet and the number of entries filled.
   */
  snapshot(into: PeerEntry[]): { version: number; ownIp: number; ownLen: number; count: number } {
    const w = this.words;
    for (;;) {
      const v1 = Atomics.load(w, VERSION);
      if (v1 & 1) continue;
      const count = w[COUNT]!;
      const ownIp = w[OWN_IP]! >>> 0;
      const ownLen = w[OWN_LEN]!;
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
      }
      if (Atomics.load(w, VERSION) === v1) return { version: v1, ownIp, ownLen, count };
    }
  }
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
      !sameKey(o.publicKey, e.publicKey)
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

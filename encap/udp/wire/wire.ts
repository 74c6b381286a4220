/**
 * The wire format of a datapath: what the engine (encap/udp/tx-engine.ts, rx-engine.ts) puts in
 * front of an inner packet (IPv4; IPv6 on an IPv6 engine: the VXLAN wire's flannel-v6, the
 * WireGuard wire's flannel-wg-v6) in a UDP datagram, and what it checks before the packet goes to
 * the TUN. Everything else — slots, batching, offloads, GSO/GRO, the peer table, the counters —
 * is the engine's and the same for every wire, so a new encapsulation is one file like these:
 *   udp-wire.ts    flannel's udp backend: no header, the payload is the packet (port 8285)
 *   vxlan-wire.ts  RFC 7348 as Linux's vxlan device and flannel.<VNI> speak it (port 8472)
 *   wireguard-wire.ts  WireGuard transport data (port 51820): per-packet header, padding and tag,
 *                  through `framing` below
 *
 * The header must not depend on the inner packet, only on the peer: a GSO message's segments all
 * carry the same header bytes (scatter-gather sends point every segment's first iovec at one copy).
 */
import type { PeerEntry } from '../peer-table.js';

/** Returned by decapsulate when the header is acceptable. */
export const WIRE_OK = -1;

export interface Wire {
  /** Bytes in front of every inner packet (0 for flannel's udp wire, 22 for VXLAN). */
  readonly headerLen: number;
  /**
   * Peer key: whether a datagram must come from the peer's own port as well as its PublicIP.
   * flannel's udp nodes send from their listening port; a VXLAN sender picks its source port per
   * flow (RFC 7348 §5), so only the address identifies it.
   */
  readonly senderPortFixed: boolean;
  /**
   * Peers may leave inner TCP/UDP checksums partial (Linux's vxlan over a veth underlay:
   * packet/partial-checksum.ts), so the engine completes them before the TUN write.
   */
  readonly innerChecksumMayBePartial: boolean;
  /** Writes the header for `peer` at slab[at, at + headerLen). */
  encapsulate(slab: Uint8Array, at: number, peer: PeerEntry): void;
  /**
   * Checks the header of the datagram at slab[at, at + len) (len may be shorter than the header);
   * WIRE_OK or the drop-reason index (counters.ts) to count it under. The inner packet follows at
   * at + headerLen and is checked by the engine.
   */
  decapsulate(slab: Uint8Array, at: number, len: number): number;
  /**
   * Per-packet framing (WireGuard): a header that changes with every packet (a counter), padding
   * and a tag after it, sealed in batches before the send and opened in batches after the
   * receive, the sender known by its session rather than its address. When set, the engine frames
   * every packet through it, never calls encapsulate/decapsulate, and must run without
   * scatter-gather (each segment's tag would have to follow its payload, and under scatter-gather the payloads lie back to back in the TUN read slot with no room between them).
   */
  readonly framing?: PacketFraming;
}

/** A network a sender may speak for, chained (a peer may have several). */
export interface AllowedNet {
  readonly net: number;
  readonly mask: number;
  readonly next: AllowedNet | undefined;
}

/** An IPv6 network a sender may speak for (four words each: core/ipv6-words.ts), chained. */
export interface AllowedNet6 {
  readonly net: Uint32Array;
  readonly mask: Uint32Array;
  readonly next: AllowedNet6 | undefined;
}

/** Called by the framing for each opened packet: the inner packet, its length, its sender's allowed nets. */
export type DeliverFn = (pkt: number, len: number, allowed: AllowedNet) => void;
/** As DeliverFn for an IPv6 engine's framing: the inner packet is IPv6, the nets IPv6 ones. */
export type DeliverFn6 = (pkt: number, len: number, allowed: AllowedNet6) => void;

export interface PacketFraming {
  /** Most bytes the framing writes after an inner packet (padding + tag): engines leave that room. */
  readonly trailerMax: number;
  /** The object the tx engine routes to for a table entry (its endpoint may move: roaming). */
  peerOf(e: PeerEntry): PeerEntry;
  /** Whether `peer` has a session to send on now; when not, the framing starts a handshake. */
  canSend(peer: PeerEntry): boolean;
  /** Keeps a copy of a packet (vnet header included) for a peer without a session; counts a drop when full. */
  hold(slab: Uint8Array, off: number, len: number, peer: PeerEntry): void;
  /** Held packets whose peer has a session now, to be forwarded as if just read (empties the list). */
  takeReleased(): Uint8Array[] | undefined;
  /** Wire bytes of a message with `inner` plaintext bytes (header, padded plaintext, tag). */
  wireLen(inner: number): number;
  /**
   * Writes the header at slab[at, at + headerLen) for the `inner` bytes that follow, zeroes the
   * padding and queues the message for sealing; returns its wire length (wireLen(inner)).
   */
  frame(slab: Uint8Array, at: number, inner: number, peer: PeerEntry): number;
  /**
   * Encrypts every message framed since the last call, in place (one batch): before the send.
   * False when sealing failed: then no queued message may be sent (some may be plaintext).
   */
  sealFramed(slab: Uint8Array): boolean;
  /**
   * Takes the received datagram at slab[at, at + len) from the address at addrs[addrAt] (one
   * word; an IPv6 engine's four from there) and `port`: WIRE_OK when it was queued for opening,
   * FRAMING_CONSUMED when the framing kept it (a handshake message), else the drop-reason index to
   * count it under.
   */
  accept(slab: Uint8Array, at: number, len: number, addrs: Uint32Array, addrAt: number, port: number): number;
  /**
   * Opens the queued datagrams (one batch) and calls `deliver` for each inner packet, in order
   * (`deliver6` on an IPv6 engine, whose inner packets are IPv6).
   */
  openAccepted(slab: Uint8Array, counters: Float64Array, deliver: DeliverFn, deliver6: DeliverFn6): void;
}

/** accept(): the framing kept the datagram (no drop, nothing for the TUN). */
export const FRAMING_CONSUMED = -2;

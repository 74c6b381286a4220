/**
 * The wire format of a datapath: what the engine (encap/udp/tx-engine.ts, rx-engine.ts) puts in
 * front of an inner IPv4 packet in a UDP datagram, and what it checks before the packet goes to
 * the TUN. Everything else — slots, batching, offloads, GSO/GRO, the peer table, the counters —
 * is the engine's and the same for every wire, so a new encapsulation is one file like these:
 *   udp-wire.ts    flannel's udp backend: no header, the payload is the packet (port 8285)
 *   vxlan-wire.ts  RFC 7348 as Linux's vxlan device and flannel.<VNI> speak it (port 8472)
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
}

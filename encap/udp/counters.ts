/**
 * Datapath counters in shared memory: workers add to them once per batch (no events, no messages),
 * the daemon reads them when Prometheus scrapes. Each worker has a block of its own, so every
 * counter has one writer; a scrape sums the blocks.
 */

/** Drop reasons, by direction; names are the `reason` label values. */
export const DROP_REASONS = [
  'too_short',
  'not_ipv4',
  'bad_ihl',
  'bad_length',
  'bad_header_checksum',
  'ttl_expired',
  'no_route',
  'unknown_sender',
  'spoofed_source',
  'wrong_destination',
  'oversized',
  'bad_vnet_header',
  'send_error',
  'tun_write_error',
  // the VXLAN wire's (encap/udp/wire/vxlan-wire.ts)
  'truncated',
  'bad_vxlan_flags',
  'wrong_vni',
  'foreign_mac',
  'bad_ethertype',
  // The UDP socket stayed full past sendBatch's deadline: the rest of the batch is dropped.
  'send_timeout',
  // the WireGuard wire's (encap/udp/wire/wireguard-wire.ts, wg-dataplane.ts)
  'unknown_message_type', // first byte not 1-4, or reserved bytes set
  'unknown_receiver_index', // transport data for no session of ours
  'replayed_counter', // a counter seen before, or too far behind the window
  'bad_tag', // the Poly1305 tag does not verify: forged, corrupted, or another key
  'expired_session', // a session past Reject-After-Time (180 s) or Reject-After-Messages
  'disallowed_source', // inner source outside the sending peer's allowed IPs
  'no_session', // tx: a peer without a session whose held queue was full
  'crypto_error', // the batch AEAD stopped part-way (out of memory): the whole batch dropped
  'handshake_flood', // more handshake messages waiting than the control plane takes per pass
  // The control plane's refusals (protocol/messages.ts WgDropReason), as handshake_<reason>:
  'handshake_truncated',
  'handshake_bad_length',
  'handshake_unknown_type',
  'handshake_bad_mac1', // not meant for us, or altered
  'handshake_bad_mac2',
  'handshake_cookie_sent', // under load without a valid MAC2: a cookie reply instead of a response
  'handshake_bad_ephemeral',
  'handshake_bad_static',
  'handshake_unknown_peer',
  'handshake_bad_timestamp',
  'handshake_replayed_initiation', // TAI64N timestamp not newer than the last
  'handshake_initiation_flood',
  'handshake_unknown_receiver',
  'handshake_bad_response',
  'handshake_bad_cookie',
  'handshake_invalid', // a refusal the list above does not name
  // An IPv6 engine's (flannel-v6.<VNI>): a packet whose version is not 6 (an IPv6 frame or TUN read)
  'not_ipv6',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const C = {
  txPackets: 0, // inner packets sent to peers (after GSO split)
  txBytes: 1,
  rxPackets: 2, // inner packets delivered to the TUN (before GRO merge)
  rxBytes: 3,
  txBatches: 4, // TUN reads that returned packets
  txSyscalls: 5, // sendmmsg/sendmsg calls
  rxBatches: 6, // recvmmsg calls that returned datagrams
  rxSyscalls: 7, // TUN writes
  txSuperPackets: 8, // TSO super-packets split in userspace
  rxMerged: 9, // TUN writes that carried a GRO-merged super-packet
  icmpUnreachable: 10,
  heapBytes: 11, // this worker's heap used (sampled)
  gcCount: 12, // this worker's garbage collections
  heartbeat: 13, // +1 per pass of the worker's loop (≤ ~150 ms apart): the main thread's stuck check
  rxChecksumsCompleted: 14, // inner checksums a kernel VXLAN peer left partial, completed here
  gsoDisabled: 15, // 1 after the kernel refused UDP_SEGMENT
  // WireGuard (wg-dataplane.ts)
  wgHandshakesSent: 16, // handshake messages (types 1-3) sent
  wgHandshakesReceived: 17, // handshake messages taken by the control plane
  wgSessions: 18, // sessions established (either side)
  wgKeepalivesSent: 19,
  wgKeepalivesReceived: 20,
  wgHeld: 21, // packets held for a peer while its handshake ran
  wgRoamed: 22, // endpoint updates from authenticated packets
} as const;

const FIRST_DROP = 32;
/** Index of a drop counter: tx drops first, then rx drops. */
export const dropIndex = (dir: 'tx' | 'rx', reason: number): number =>
  FIRST_DROP + (dir === 'tx' ? 0 : DROP_REASONS.length) + reason;
export const COUNTER_SLOTS = FIRST_DROP + 2 * DROP_REASONS.length;
export const reasonIndex = (r: DropReason): number => DROP_REASONS.indexOf(r);

/** One shared buffer holding `workers` counter blocks; block w is worker w's. */
export function counterBlocks(workers: number): { sab: SharedArrayBuffer; blocks: Float64Array[] } {
  const sab = new SharedArrayBuffer(workers * COUNTER_SLOTS * 8);
  return { sab, blocks: Array.from({ length: workers }, (_, w) => blockOf(sab, w)) };
}

export const blockOf = (sab: SharedArrayBuffer, w: number): Float64Array =>
  new Float64Array(sab, w * COUNTER_SLOTS * 8, COUNTER_SLOTS);

export function sumOf(blocks: readonly Float64Array[], idx: number): number {
  let s = 0;
  for (const b of blocks) s += b[idx]!;
  return s;
}

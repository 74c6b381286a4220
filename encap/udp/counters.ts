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

/**
 * The VXLAN engine tests' node: a tx and an rx engine (udp-engines.ts) on one in-memory TUN,
 * socket and peer table, for either family (encap/udp/wire/vxlan-engines.test.ts
 * for flannel.<VNI>, vxlan6-engines.test.ts for flannel-v6.<VNI>).
 */
import { newVnetHdr, VNET_HDR_LEN, writeVnetHdr, type VnetHdr } from '../../encap/packet/vnet-hdr.js';
import { SharedPeerTable } from '../../encap/udp/peer-table.js';
import type { VxlanWire } from '../../encap/udp/wire/vxlan-wire.js';
import type { UdpIo } from '../../sys/batch-io.js';
import { MemoryTun } from './memory-io.js';
import { udpEngines, type EngineOptions } from './udp-engines.js';

/** Both engines of one node on `udp` and `wire`, sharing a peer table and counters. */
export function vxlanEngines(udp: UdpIo, wire: VxlanWire, o: EngineOptions) {
  const table = new SharedPeerTable(64);
  const counters = new Float64Array(256);
  const tun = new MemoryTun();
  const { tx, rx } = udpEngines({ table, counters, tun, udp, wire }, o);
  return { table, counters, tun, tx, rx };
}

/** A packet as a vnet TUN hands it over: virtio_net_hdr `h` (default: none of the offloads) in front. */
export function withVnet(p: Uint8Array, h: VnetHdr = newVnetHdr()): Uint8Array {
  const out = new Uint8Array(VNET_HDR_LEN + p.length);
  writeVnetHdr(out, 0, h);
  out.set(p, VNET_HDR_LEN);
  return out;
}

/**
 * The VXLAN engine tests' node: a tx and an rx engine on one in-memory TUN, socket and peer table,
 * as a datapath worker pair runs them, for either family (encap/udp/wire/vxlan-engines.test.ts
 * for flannel.<VNI>, vxlan6-engines.test.ts for flannel-v6.<VNI>).
 */
import { sum16 } from '../../encap/packet/checksum.js';
import { newVnetHdr, VNET_HDR_LEN, writeVnetHdr, type VnetHdr } from '../../encap/packet/vnet-hdr.js';
import { SlotPool } from '../../encap/pool.js';
import { SharedPeerTable } from '../../encap/udp/peer-table.js';
import { RxEngine } from '../../encap/udp/rx-engine.js';
import { TxEngine } from '../../encap/udp/tx-engine.js';
import type { VxlanWire } from '../../encap/udp/wire/vxlan-wire.js';
import type { UdpIo } from '../../sys/batch-io.js';
import { MemoryTun } from './memory-io.js';

export interface VxlanEngineOptions {
  /** TUN offloads (virtio_net_hdr, UDP GSO). */
  readonly vnet: boolean;
  /** Scatter-gather (with vnet only). */
  readonly sg: boolean;
  /** The TUN MTU. */
  readonly mtu: number;
  /** 6: an IPv6 engine (flannel-v6.<VNI>). */
  readonly family?: 4 | 6;
}

/** Both engines of one node on `udp` and `wire`, sharing a peer table and counters. */
export function vxlanEngines(udp: UdpIo, wire: VxlanWire, o: VxlanEngineOptions) {
  const table = new SharedPeerTable(64);
  const counters = new Float64Array(256);
  const tun = new MemoryTun();
  const slot = o.vnet ? 65536 + 8192 + 32 : 2048;
  const opts = {
    vnet: o.vnet,
    gso: o.vnet,
    sg: o.sg,
    batch: 64,
    maxPacket: o.mtu,
    ...(o.family ? { family: o.family } : {}),
  };
  const tx = new TxEngine(
    opts,
    new SlotPool(128, slot, 32),
    table,
    tun,
    udp,
    counters,
    sum16,
    undefined,
    wire,
  );
  const rx = new RxEngine(opts, new SlotPool(128, slot, 32), table, tun, udp, counters, wire);
  return { table, counters, tun, tx, rx };
}

/** A packet as a vnet TUN hands it over: virtio_net_hdr `h` (default: none of the offloads) in front. */
export function withVnet(p: Uint8Array, h: VnetHdr = newVnetHdr()): Uint8Array {
  const out = new Uint8Array(VNET_HDR_LEN + p.length);
  writeVnetHdr(out, 0, h);
  out.set(p, VNET_HDR_LEN);
  return out;
}

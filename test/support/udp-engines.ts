/**
 * One node's tx and rx engines as a datapath worker pair runs them: both on one TUN, socket, peer
 * table and counters, framed by one wire. The engine tests of every wire build their node on this
 * (VXLAN in vxlan-engines.ts, WireGuard in encap/udp/wg*.test.ts), so the slot sizes and options
 * they test with are the same ones for all.
 */
import { sum16 } from '../../encap/packet/checksum.js';
import { SlotPool } from '../../encap/pool.js';
import type { SharedPeerTable } from '../../encap/udp/peer-table.js';
import { RxEngine } from '../../encap/udp/rx-engine.js';
import { TxEngine } from '../../encap/udp/tx-engine.js';
import type { Wire } from '../../encap/udp/wire/wire.js';
import type { TunIo, UdpIo } from '../../sys/batch-io.js';

/** What the two engines share; the WireGuard data plane needs the table, socket and counters first. */
export interface EngineParts {
  readonly table: SharedPeerTable;
  readonly counters: Float64Array;
  readonly tun: TunIo;
  readonly udp: UdpIo;
  readonly wire: Wire;
}

export interface EngineOptions {
  /** TUN offloads (virtio_net_hdr, UDP GSO). */
  readonly vnet: boolean;
  /** Scatter-gather (with vnet only). */
  readonly sg: boolean;
  /** The TUN MTU. */
  readonly mtu: number;
  /** 6: IPv6 engines (flannel-v6.<VNI>, flannel-wg-v6). */
  readonly family?: 4 | 6;
}

/** The tx and rx engines on `p`; with vnet, slots big enough for a 64 KiB GSO packet. */
export function udpEngines(p: EngineParts, o: EngineOptions): { tx: TxEngine; rx: RxEngine } {
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
    p.table,
    p.tun,
    p.udp,
    p.counters,
    sum16,
    undefined,
    p.wire,
  );
  const rx = new RxEngine(opts, new SlotPool(128, slot, 32), p.table, p.tun, p.udp, p.counters, p.wire);
  return { tx, rx };
}

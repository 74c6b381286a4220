/** Prometheus view of the datapath's shared counters: read at scrape time, never per packet. */
import { Counter, Gauge, type Registry } from 'prom-client';
import { C, DROP_REASONS, dropIndex, sumOf } from './counters.js';

export interface OffloadState {
  tunVnetHdr: boolean;
  udpGro: boolean;
  udpGso: () => boolean;
  batching: boolean;
  /** GSO segments and GRO merges sent as iovecs, not copied (--udp-sg, probed). */
  scatterGather: boolean;
  /** Datapath queues in use (more than one: steered by CPU). */
  queues: number;
}

/** `workers` names the datapath threads, one per counter block, in block order. */
export function registerUdpMetrics(
  registry: Registry,
  blocks: readonly Float64Array[],
  offloads: OffloadState,
  workers: readonly string[],
): void {
  const total = (idx: number): number => sumOf(blocks, idx);
  const mirror = (
    name: string,
    help: string,
    labelNames: string[],
    read: (set: (labels: Record<string, string>, v: number) => void) => void,
  ): void => {
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        read((labels, v) => {
          if (v > 0) this.inc(labels, v);
        });
      },
    });
  };
  mirror(
    'overlayd_udp_packets_total',
    'Inner packets forwarded by the udp datapath',
    ['direction'],
    (set) => {
      set({ direction: 'tx' }, total(C.txPackets));
      set({ direction: 'rx' }, total(C.rxPackets));
    },
  );
  mirror('overlayd_udp_bytes_total', 'Inner bytes forwarded by the udp datapath', ['direction'], (set) => {
    set({ direction: 'tx' }, total(C.txBytes));
    set({ direction: 'rx' }, total(C.rxBytes));
  });
  mirror(
    'overlayd_udp_drops_total',
    'Packets or datagrams the udp datapath dropped, by reason',
    ['direction', 'reason'],
    (set) => {
      for (const dir of ['tx', 'rx'] as const) {
        DROP_REASONS.forEach((reason, i) => set({ direction: dir, reason }, total(dropIndex(dir, i))));
      }
    },
  );
  mirror(
    'overlayd_udp_batches_total',
    'Batches that carried packets (TUN reads for tx, recvmmsg for rx), by worker: how traffic spreads over the queues',
    ['direction', 'worker'],
    (set) => {
      workers.forEach((worker, i) => {
        set({ direction: 'tx', worker }, blocks[i]![C.txBatches]!);
        set({ direction: 'rx', worker }, blocks[i]![C.rxBatches]!);
      });
    },
  );
  mirror('overlayd_udp_syscalls_total', 'Send syscalls (tx) and TUN writes (rx)', ['direction'], (set) => {
    set({ direction: 'tx' }, total(C.txSyscalls));
    set({ direction: 'rx' }, total(C.rxSyscalls));
  });
  mirror('overlayd_udp_tso_super_packets_total', 'TSO super-packets split in userspace', [], (set) =>
    set({}, total(C.txSuperPackets)),
  );
  mirror('overlayd_udp_gro_merged_total', 'TUN writes carrying several merged TCP segments', [], (set) =>
    set({}, total(C.rxMerged)),
  );
  mirror(
    'overlayd_udp_icmp_unreachable_total',
    'ICMP net unreachable replies for destinations without a peer',
    [],
    (set) => set({}, total(C.icmpUnreachable)),
  );
  // Zero (and so absent) on the udp and VXLAN wires.
  mirror(
    'overlayd_wireguard_events_total',
    'WireGuard data plane events: handshake messages sent/received, sessions, keepalives, packets held for a handshake, endpoint updates',
    ['event'],
    (set) => {
      set({ event: 'handshakes_sent' }, total(C.wgHandshakesSent));
      set({ event: 'handshakes_received' }, total(C.wgHandshakesReceived));
      set({ event: 'sessions' }, total(C.wgSessions));
      set({ event: 'keepalives_sent' }, total(C.wgKeepalivesSent));
      set({ event: 'keepalives_received' }, total(C.wgKeepalivesReceived));
      set({ event: 'held' }, total(C.wgHeld));
      set({ event: 'roamed' }, total(C.wgRoamed));
    },
  );
  mirror('overlayd_udp_worker_gc_total', 'Garbage collections in the datapath workers', ['worker'], (set) => {
    workers.forEach((worker, i) => set({ worker }, blocks[i]![C.gcCount]!));
  });
  new Gauge({
    name: 'overlayd_udp_worker_heap_bytes',
    help: 'Heap used by each datapath worker (sampled every 50 ms)',
    labelNames: ['worker'],
    registers: [registry],
    collect() {
      workers.forEach((worker, i) => this.set({ worker }, blocks[i]![C.heapBytes]!));
    },
  });
  new Gauge({
    name: 'overlayd_udp_queues',
    help: 'Datapath queues (TUN queue + UDP socket + worker), each serving the CPUs c with c % queues = its index',
    registers: [registry],
    collect() {
      this.set(offloads.queues);
    },
  });
  new Gauge({
    name: 'overlayd_udp_offload_enabled',
    help: '1 when a datapath technique is in use (tun_vnet_hdr = TSO/checksum offload, udp_gso, udp_gro, scatter_gather = no payload copies, batching, cpu_steering = per-CPU queues)',
    labelNames: ['feature'],
    registers: [registry],
    collect() {
      this.set({ feature: 'tun_vnet_hdr' }, offloads.tunVnetHdr ? 1 : 0);
      this.set({ feature: 'udp_gso' }, offloads.udpGso() ? 1 : 0);
      this.set({ feature: 'udp_gro' }, offloads.udpGro ? 1 : 0);
      this.set({ feature: 'scatter_gather' }, offloads.scatterGather ? 1 : 0);
      this.set({ feature: 'batching' }, offloads.batching ? 1 : 0);
      this.set({ feature: 'cpu_steering' }, offloads.queues > 1 ? 1 : 0);
    },
  });
}

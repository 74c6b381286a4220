/**
 * A datapath worker thread of one queue: both engines (duplex), or one (tx: TUN → UDP, rx:
 * UDP → TUN), stepping batch after batch, blocking in its syscalls with a short poll timeout. It
 * pins itself to its queue's CPUs first. Every ~50 ms it yields to its own event loop (so GC
 * observation and the stop flag work) and samples its heap into its counter block; nothing per
 * packet crosses to the main thread.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { nativeSys } from '../sys/native.js';
import { SlotPool } from '../pool.js';
import { blockOf, C } from './counters.js';
import type { TunIo, UdpIo } from './io.js';
import { SharedPeerTable } from './peer-table.js';
import { RxEngine } from './rx-engine.js';
import { TxEngine, type EngineOptions } from './tx-engine.js';
import { wireOf, type WireSpec } from '../wire/wire-spec.js';

export interface WorkerInit {
  readonly role: 'tx' | 'rx' | 'duplex';
  readonly tunFd: number;
  readonly udpFd: number;
  readonly tableSab: SharedArrayBuffer;
  readonly tableCapacity: number;
  readonly countersSab: SharedArrayBuffer;
  /** This worker's counter block in countersSab. */
  readonly block: number;
  /** CPUs to run on (its queue's); empty: leave the affinity alone. */
  readonly cpus: readonly number[];
  readonly options: EngineOptions;
  readonly slots: number;
  readonly slotSize: number;
  /** The wire format (flannel's udp wire when absent). */
  readonly wire?: WireSpec;
}

/** Room in front of a packet for the virtio_net_hdr (10) or a wire header (VXLAN: 22). */
const HEADROOM = 32;
const init = workerData as WorkerInit;
const sys = nativeSys();
const table = new SharedPeerTable(init.tableCapacity, init.tableSab);
const counters = blockOf(init.countersSab, init.block);

/** What the worker tells its parent once, at start: whether it got its CPUs. */
export interface PinReport {
  readonly pinned: boolean;
  readonly errno?: number;
}
if (init.cpus.length > 0) {
  const err = sys.pinThread(Int32Array.from(init.cpus));
  parentPort?.postMessage((err === 0 ? { pinned: true } : { pinned: false, errno: err }) satisfies PinReport);
}
const pool = new SlotPool(init.slots, init.slotSize, HEADROOM);

const tun: TunIo = {
  read: (slab, offs, lens, count, cap, timeoutMs) =>
    sys.readBatch(init.tunFd, slab, offs, lens, count, cap, timeoutMs),
  write: (slab, offs, lens, count, errs) => sys.writeBatch(init.tunFd, slab, offs, lens, count, errs),
  writev: (slab, iovs, count, errs) =>
    sys.writevBatch(init.tunFd, slab, iovs.offs, iovs.lens, iovs.first, iovs.counts, count, errs),
};
const udp: UdpIo = {
  recv: (slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs) =>
    sys.recvBatch(init.udpFd, slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs),
  send: (slab, offs, lens, start, count, addrs, ports, gso) =>
    sys.sendBatch(init.udpFd, slab, offs, lens, start, count, addrs, ports, gso),
  sendv: (slab, iovs, start, count, addrs, ports, gso) =>
    sys.sendvBatch(
      init.udpFd,
      slab,
      iovs.offs,
      iovs.lens,
      iovs.first,
      iovs.counts,
      start,
      count,
      addrs,
      ports,
      gso,
    ),
};

const csum = (b: Uint8Array, o: number, l: number, s: number): number => sys.csum(b, o, l, s);
const chunkSums = (b: Uint8Array, o: number, l: number, c: number, out: Uint32Array): number =>
  sys.csumChunks(b, o, l, c, out);
const wire = wireOf(init.wire);
const tx =
  init.role !== 'rx'
    ? new TxEngine(init.options, pool, table, tun, udp, counters, csum, chunkSums, wire)
    : undefined;
// A duplex worker's engines each have a pool of their own, as they would in two workers.
const rxPool = init.role === 'duplex' ? new SlotPool(init.slots, init.slotSize, HEADROOM) : pool;
const rx =
  init.role !== 'tx' ? new RxEngine(init.options, rxPool, table, tun, udp, counters, wire, csum) : undefined;

const gc = new PerformanceObserver((list) => {
  counters[C.gcCount]! += list.getEntries().length;
});
gc.observe({ entryTypes: ['gc'] });

const SLICE_MS = 50;
const POLL_MS = 100;
const TUN_READY = 1;
const UDP_READY = 2;
/** Batches stepped between looks at the clock and the stop flag: neither is free on a cold CPU. */
const STEPS_PER_CHECK = 16;

/**
 * Both directions in one thread: one poll for both fds, then the engines read without polling
 * again. After writing received packets to the TUN it reads the TUN at once: the kernel delivers
 * a written packet synchronously, so a pod's reply (an echo reply, an ACK) is usually queued
 * already, and sending it now saves the wake-up of another thread on the round trip.
 */
function duplexStep(): number {
  const ready = sys.waitReadable(init.tunFd, init.udpFd, POLL_MS);
  if (ready === 0) return 0;
  const received = ready & UDP_READY ? rx!.step(-1) : 0;
  // After writing to the TUN, read it whether or not the poll said so: the replies are there.
  const sent = ready & TUN_READY || received > 0 ? tx!.step(-1) : 0;
  return received + sent;
}

const step =
  init.role === 'duplex'
    ? duplexStep
    : init.role === 'tx'
      ? (): number => tx!.step(POLL_MS)
      : (): number => rx!.step(POLL_MS);

while (!table.stopRequested()) {
  const until = Date.now() + SLICE_MS;
  do {
    for (let i = 0; i < STEPS_PER_CHECK; i++) if (step() === 0) break;
  } while (Date.now() < until && !table.stopRequested());
  counters[C.heapBytes] = getHeapStatistics().used_heap_size;
  await new Promise((r) => setImmediate(r));
}
gc.disconnect();

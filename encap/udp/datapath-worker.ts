/**
 * A datapath worker thread: one engine (tx: TUN → UDP, or rx: UDP → TUN) stepping batch after
 * batch, blocking in its syscalls with a short poll timeout. Every ~50 ms it yields to its own
 * event loop (so GC observation and the stop flag work) and samples its heap into the shared
 * counters; nothing per packet crosses to the main thread.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { workerData } from 'node:worker_threads';
import { nativeSys } from '../sys/native.js';
import { SlotPool } from '../pool.js';
import { C } from './counters.js';
import type { TunIo, UdpIo } from './io.js';
import { SharedPeerTable } from './peer-table.js';
import { RxEngine } from './rx-engine.js';
import { TxEngine, type EngineOptions } from './tx-engine.js';

export interface WorkerInit {
  readonly role: 'tx' | 'rx';
  readonly tunFd: number;
  readonly udpFd: number;
  readonly tableSab: SharedArrayBuffer;
  readonly tableCapacity: number;
  readonly countersSab: SharedArrayBuffer;
  readonly options: EngineOptions;
  readonly slots: number;
  readonly slotSize: number;
}

const HEADROOM = 16;
const init = workerData as WorkerInit;
const sys = nativeSys();
const table = new SharedPeerTable(init.tableCapacity, init.tableSab);
const counters = new Float64Array(init.countersSab);
const pool = new SlotPool(init.slots, init.slotSize, HEADROOM);

const tun: TunIo = {
  read: (slab, offs, lens, count, cap, timeoutMs) =>
    sys.readBatch(init.tunFd, slab, offs, lens, count, cap, timeoutMs),
  write: (slab, offs, lens, count, errs) => sys.writeBatch(init.tunFd, slab, offs, lens, count, errs),
};
const udp: UdpIo = {
  recv: (slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs) =>
    sys.recvBatch(init.udpFd, slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs),
  send: (slab, offs, lens, start, count, addrs, ports, gso) =>
    sys.sendBatch(init.udpFd, slab, offs, lens, start, count, addrs, ports, gso),
};

const engine =
  init.role === 'tx'
    ? new TxEngine(init.options, pool, table, tun, udp, counters, (b, o, l, s) => sys.csum(b, o, l, s))
    : new RxEngine(init.options, pool, table, tun, udp, counters);

const heapIdx = init.role === 'tx' ? C.txHeapBytes : C.rxHeapBytes;
const gcIdx = init.role === 'tx' ? C.txGcCount : C.rxGcCount;
const gc = new PerformanceObserver((list) => {
  counters[gcIdx]! += list.getEntries().length;
});
gc.observe({ entryTypes: ['gc'] });

const SLICE_MS = 50;
const POLL_MS = 100;
/** Batches stepped between looks at the clock and the stop flag: neither is free on a cold CPU. */
const STEPS_PER_CHECK = 16;
while (!table.stopRequested()) {
  const until = Date.now() + SLICE_MS;
  do {
    for (let i = 0; i < STEPS_PER_CHECK; i++) if (engine.step(POLL_MS) === 0) break;
  } while (Date.now() < until && !table.stopRequested());
  counters[heapIdx] = getHeapStatistics().used_heap_size;
  await new Promise((r) => setImmediate(r));
}
gc.disconnect();

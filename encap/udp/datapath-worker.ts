/**
 * A datapath worker thread of one queue: both engines (duplex), or one (tx: TUN → UDP, rx:
 * UDP → TUN), stepping batch after batch, blocking in its syscalls with a short poll timeout. It
 * pins itself to its queue's CPUs first. Every ~50 ms it yields to its own event loop (so GC
 * observation and the stop flag work), samples its heap into its counter block and bumps its
 * heartbeat counter (the main thread's stuck check); nothing per packet crosses to the main thread.
 * A broken TUN or socket (io-faults.ts) ends the loop with a FaultReport to the main thread, which
 * repairs the datapath; any other exception ends the worker with an 'error' event.
 */
import { closeSync, openSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import type { TunIo, UdpIo } from '../../sys/batch-io.js';
import {
  nativeChecksum,
  nativeChunkSums,
  nativeTunIo,
  nativeUdpIo,
  nativeUdpIo6,
  waitReadable,
} from '../../sys/native-io.js';
import { pinThisThread } from '../../sys/open-queues.js';
import { SlotPool } from '../pool.js';
import { blockOf, C } from './counters.js';
import { DatapathFault, watchIo } from './io-faults.js';
import { SharedPeerTable } from './peer-table.js';
import { RxEngine } from './rx-engine.js';
import { TxEngine, type EngineOptions } from './tx-engine.js';
import { wireOf, type WireSpec } from './wire/wire-spec.js';
import { startWireguard } from './wg-worker.js';

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
  /** The TUN's name, for fault reports. */
  readonly tunName: string;
  /** Listen for test-only fault injections (OVERLAYD_TEST_FAULT is set; see udp-test-faults.ts). */
  readonly testHooks: boolean;
  /** A test-only fault to inject at the first pass of the loop. */
  readonly testFault?: TestFault;
}

/** Test-only faults a worker can be told to simulate (udp-test-faults.ts). */
export type TestFault = 'worker-throw' | 'worker-exit' | 'worker-stuck' | 'socket-error';

/** Room in front of a packet for the virtio_net_hdr (10) or a wire header (VXLAN: 22). */
const HEADROOM = 32;
const init = workerData as WorkerInit;
const table = new SharedPeerTable(init.tableCapacity, init.tableSab);
const counters = blockOf(init.countersSab, init.block);

/** What the worker tells its parent: once at start, whether it got its CPUs; at the end, a fault. */
export type WorkerReport =
  | { readonly kind: 'pin'; readonly pinned: boolean; readonly errno?: number }
  | { readonly kind: 'fault'; readonly reason: DatapathFault['reason']; readonly detail: string };
const report = (r: WorkerReport): void => parentPort?.postMessage(r);
if (init.cpus.length > 0) {
  const err = pinThisThread(init.cpus);
  report(err === 0 ? { kind: 'pin', pinned: true } : { kind: 'pin', pinned: false, errno: err });
}
const pool = new SlotPool(init.slots, init.slotSize, HEADROOM);

let udpFd = init.udpFd;
const rawTun: TunIo = nativeTunIo(init.tunFd);
// An IPv6 engine's socket is AF_INET6: its calls take four address words per message.
const udpIoOf = init.options.family === 6 ? nativeUdpIo6 : nativeUdpIo;
// The socket-error test fault swaps the fd under the engines: they hold this indirection.
let udpNow = udpIoOf(udpFd);
const rawUdp: UdpIo = {
  recv: (slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs) =>
    udpNow.recv(slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs),
  send: (slab, offs, lens, start, count, addrs, ports, gso) =>
    udpNow.send(slab, offs, lens, start, count, addrs, ports, gso),
  sendv: (slab, iovs, start, count, addrs, ports, gso) =>
    udpNow.sendv(slab, iovs, start, count, addrs, ports, gso),
};
const { tun, udp } = watchIo(rawTun, rawUdp, init.tunName);

const csum = nativeChecksum;
// The WireGuard wire comes with its data plane (sessions, control plane), stepped by this loop too.
const wg =
  init.wire?.kind === 'wireguard'
    ? startWireguard(init.wire, init.options, table, udp, counters, init.options.batch * 64)
    : undefined;
const wire = wg ? wg.wire : wireOf(init.wire);
const tx =
  init.role !== 'rx'
    ? new TxEngine(init.options, pool, table, tun, udp, counters, csum, nativeChunkSums, wire)
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
  const ready = waitReadable(init.tunFd, udpFd, POLL_MS);
  if (ready === 0) return 0;
  const received = ready & UDP_READY ? rx!.step(-1) : 0;
  // Handshakes answered now, not at the next pass: a session may release held packets below.
  if (wg?.dataplane.hasInbox) wg.dataplane.service(Date.now());
  // After writing to the TUN, read it whether or not the poll said so: the replies are there.
  const sent = ready & TUN_READY || received > 0 || wg?.dataplane.hasReleased ? tx!.step(-1) : 0;
  return received + sent;
}

const step =
  init.role === 'duplex'
    ? duplexStep
    : init.role === 'tx'
      ? (): number => tx!.step(POLL_MS)
      : (): number => rx!.step(POLL_MS);

/**
 * Test-only (OVERLAYD_TEST_FAULT): make this worker fail the way a bug or a broken fd would. The
 * socket error is a real one from the kernel: the worker's UDP I/O moves to /dev/null, whose
 * recvmmsg answers ENOTSOCK, and the fault detection above must notice it by itself.
 */
let pendingFault: TestFault | undefined = init.testFault;
if (init.testHooks) {
  parentPort?.on('message', (m: { kind?: string; fault?: TestFault }) => {
    if (m.kind === 'test-fault') pendingFault = m.fault;
  });
  parentPort?.unref();
}
function injectFault(f: TestFault): void {
  pendingFault = undefined;
  if (f === 'worker-throw') throw new Error('test fault injected (OVERLAYD_TEST_FAULT=worker-throw)');
  if (f === 'worker-exit') process.exit(3);
  if (f === 'socket-error') {
    udpFd = openSync('/dev/null', 'r');
    udpNow = udpIoOf(udpFd);
  }
  // A thread that never comes back (a loop bug, a syscall that never returns): only terminate() ends it.
  if (f === 'worker-stuck') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

try {
  while (!table.stopRequested()) {
    const until = Date.now() + SLICE_MS;
    let now: number;
    do {
      for (let i = 0; i < STEPS_PER_CHECK; i++) if (step() === 0) break;
      now = Date.now();
      wg?.dataplane.service(now); // WireGuard timers, and what the steps noted for them
    } while (now < until && !table.stopRequested());
    counters[C.heapBytes] = getHeapStatistics().used_heap_size;
    counters[C.heartbeat]! += 1;
    await new Promise((r) => setImmediate(r));
    if (pendingFault) injectFault(pendingFault);
  }
} catch (err) {
  if (!(err instanceof DatapathFault)) throw err;
  report({ kind: 'fault', reason: err.reason, detail: err.detail });
} finally {
  if (udpFd !== init.udpFd) closeSync(udpFd);
}
gc.disconnect();

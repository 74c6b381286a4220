/**
 * The running datapath workers of the udp backend, and how each can fail as seen from the main
 * thread: a FaultReport (its TUN or socket broke), an uncaught exception ('error'), an exit
 * nobody asked for, or a heartbeat counter that stops moving (stuck). Each becomes one onFault
 * call; the backend decides what to repair. Stopping is bounded: workers get the stop flag, then
 * terminate(), and one that still does not exit is reported instead of waited for forever.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { describeError } from '../../core/errors.js';
import type { Fault } from './repair-policy.js';
import { C } from './counters.js';
import type { SharedPeerTable } from './peer-table.js';
import type { TestFault, WorkerInit, WorkerReport } from './datapath-worker.js';

/** A worker whose heartbeat has not moved for this long is stuck (its loop beats every ≤ ~150 ms). */
export const STUCK_MS = 3000;
/** How long stop() waits for workers to see the stop flag, and then for terminate(). */
const STOP_GRACE_MS = 2000;

interface Running {
  readonly name: string;
  readonly worker: Worker;
  readonly block: number;
  readonly exited: Promise<void>;
  /** We asked it to stop: its exit is no fault. */
  stopping: boolean;
  gone: boolean;
  lastBeat: number;
  beatAt: number;
  /** Its heartbeat moved at least once (module loading is not a stuck loop). */
  beating: boolean;
}

export class WorkerSet {
  private running: Running[] = [];
  private allBeating: (() => void) | undefined;

  constructor(
    private readonly log: Logger,
    private readonly table: SharedPeerTable,
    /** Counter blocks, in block order: each worker's heartbeat is in its own. */
    private readonly blocks: () => readonly Float64Array[],
    private readonly onFault: (f: Fault) => void,
  ) {}

  get size(): number {
    return this.running.length;
  }

  start(name: string, init: WorkerInit): void {
    const w = new Worker(new URL('./datapath-worker.js', import.meta.url), {
      workerData: init,
      name: `overlayd-${name}`,
    });
    const r: Running = {
      name,
      worker: w,
      block: init.block,
      exited: new Promise((resolve) => w.once('exit', () => resolve())),
      stopping: false,
      gone: false,
      lastBeat: this.beatOf(init.block),
      beatAt: Date.now(),
      beating: false,
    };
    w.on('message', (m: WorkerReport) => {
      if (m.kind === 'pin' && !m.pinned)
        this.log.warn(
          { worker: name, cpus: init.cpus, errno: m.errno },
          'datapath worker could not be pinned to its CPUs (a cpuset?); it runs where the scheduler puts it',
        );
      if (m.kind === 'fault' && !r.stopping)
        this.onFault({ reason: m.reason, detail: `${m.detail} (worker ${name})` });
    });
    w.on('error', (err) => {
      if (!r.stopping)
        this.onFault({
          reason: 'worker_error',
          detail: `datapath worker ${name} threw: ${describeError(err)}`,
        });
    });
    w.on('exit', (code) => {
      r.gone = true;
      if (!r.stopping)
        this.onFault({ reason: 'worker_exit', detail: `datapath worker ${name} exited (code ${code})` });
    });
    this.running.push(r);
  }

  private beatOf(block: number): number {
    return this.blocks()[block]?.[C.heartbeat] ?? 0;
  }

  /** Calls `fn` once, the first time every running worker's heartbeat has moved (all have booted). */
  whenAllBeating(fn: () => void): void {
    this.allBeating = fn;
  }

  /** The stuck check, from the backend's periodic tick (and waitBeating's polls). */
  checkHeartbeats(now = Date.now()): void {
    for (const r of this.running) {
      if (r.gone || r.stopping) continue;
      const beat = this.beatOf(r.block);
      if (beat !== r.lastBeat) {
        r.lastBeat = beat;
        r.beatAt = now;
        r.beating = true;
      } else if (r.beating && now - r.beatAt >= STUCK_MS) {
        this.onFault({
          reason: 'worker_stuck',
          detail: `datapath worker ${r.name} stuck (no heartbeat for ${((now - r.beatAt) / 1000).toFixed(1)} s)`,
        });
      }
    }
    const fn = this.allBeating;
    if (fn && this.running.length > 0 && this.running.every((r) => r.beating)) {
      this.allBeating = undefined;
      fn();
    }
  }

  /**
   * Resolves once every worker's heartbeat has moved (it loaded and forwards); throws after
   * `timeoutMs`, or when one died first (its fault is reported on its own). Returns early once
   * `cancelled()` (the backend is closing: a stop must not wait for workers to boot).
   */
  async waitBeating(timeoutMs: number, cancelled: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (cancelled()) return;
      this.checkHeartbeats();
      const dead = this.running.find((r) => r.gone);
      if (dead) throw new Error(`datapath worker ${dead.name} exited while starting`);
      const waiting = this.running.filter((r) => !r.beating);
      if (waiting.length === 0) return;
      if (Date.now() >= deadline)
        throw new Error(
          `datapath worker(s) ${waiting.map((r) => r.name).join(', ')} not running after ${timeoutMs / 1000} s`,
        );
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Test-only: tell the first worker to fail (udp-test-faults.ts). */
  inject(fault: TestFault): void {
    this.running[0]?.worker.postMessage({ kind: 'test-fault', fault });
  }

  /**
   * Stops every worker: the stop flag, then terminate() for those that did not see it in time.
   * Throws (after clearing the list) when one is still running: its fds must not be reused.
   */
  async stop(): Promise<void> {
    const all = this.running;
    this.running = [];
    for (const r of all) r.stopping = true;
    this.table.requestStop();
    const waitAll = (ms: number): Promise<boolean> =>
      Promise.race([
        Promise.all(all.map((r) => r.exited)).then(() => true),
        new Promise<boolean>((res) => setTimeout(() => res(false), ms).unref()),
      ]);
    if (!(await waitAll(STOP_GRACE_MS))) {
      const late = all.filter((r) => !r.gone);
      this.log.warn(
        { workers: late.map((r) => r.name) },
        'datapath workers ignored the stop flag; terminating them',
      );
      for (const r of late) void r.worker.terminate();
      if (!(await waitAll(STOP_GRACE_MS))) {
        const stuck = all.filter((r) => !r.gone).map((r) => r.name);
        throw new Error(`datapath worker(s) ${stuck.join(', ')} cannot be stopped (stuck in a system call?)`);
      }
    }
    this.table.clearStop();
  }
}

/**
 * What the kernel backends (vxlan, host-gw) share: one rtnetlink socket, the kernel metrics, a
 * PeerProgrammer over KernelSync, and the periodic loop (a device check every second when the
 * backend has a device, a full reconcile every 10 s). Peer events, reconcile and close are the
 * same for both; a backend says only what a lease means in the kernel (entriesOf), which of the
 * kernel's entries are its own (scope), and how it sets up its local side.
 */
import type { Lease, LeaseEvent } from '../../core/lease.js';
import type { BackendType } from '../../core/network.js';
import { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelMetrics } from './kernel-metrics.js';
import { KernelSync, type PeerEntries, type ReconcileScope } from './kernel-sync.js';
import { PeerProgrammer } from './peer-programmer.js';
import { PeriodicReconciler } from './periodic.js';

export abstract class KernelBackend implements Backend {
  abstract readonly type: BackendType;
  protected readonly nl = new RtNetlink();
  protected readonly programmer: PeerProgrammer;
  private readonly periodic: PeriodicReconciler;

  constructor(
    protected readonly ctx: BackendContext,
    /** What to say (and count) when a peer's entries cannot be added. */
    addFailure: { readonly message: string; readonly reason?: string },
  ) {
    const metrics = new KernelMetrics(ctx.metrics);
    this.programmer = new PeerProgrammer({
      sync: new KernelSync(this.nl, metrics, ctx.log),
      metrics,
      log: ctx.log,
      entriesOf: (l) => this.entriesOf(l),
      scope: () => this.scope(),
      addFailure,
    });
    this.periodic = new PeriodicReconciler(
      ctx.log,
      this.checkDevice ? () => this.checkDevice!() : undefined,
      () => this.programmer.reconcile(),
    );
  }

  abstract register(): Promise<Registration>;

  /** The kernel entries one peer needs, or why this backend cannot use it (a metric label). */
  protected abstract entriesOf(peer: Lease): PeerEntries | string;

  /** Which kernel entries are ours: a full reconcile removes what is in scope and not desired. */
  protected abstract scope(): ReconcileScope;

  /** Our lease is known (again, after a conflict moved us): set up the local side. */
  protected programLocal(_own: Lease): void {}

  /** Run every second when defined: find the device lost or replaced and rebuild it. */
  protected checkDevice?(): void;

  async start(own: Lease): Promise<void> {
    this.programLocal(own);
    this.periodic.start();
  }

  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    this.programmer.apply(events);
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    this.programmer.reset(all);
  }

  async close(): Promise<void> {
    this.periodic.stop();
    this.nl.close();
  }
}

/**
 * flannel's udp backend, fast: a TUN device (flannel0) whose packets travel between nodes as the
 * raw payload of UDP datagrams on port 8285, forwarded in userspace by worker threads: one per
 * datapath queue (a TUN queue and a UDP socket, steered by CPU: queues.ts), or two per queue with
 * --udp-workers=2 (one per direction).
 *
 * Start: open the datapath (udp-datapath.ts: TUN queues with offloads when the kernel has them,
 * UDP sockets), set the TUN up with MTU = underlay − 28, address <subnet>.0/32 and a route for
 * the whole Network (as flannel; tun-state.ts), start the workers. Peers go to the workers
 * through a shared table, without stopping them.
 *
 * Failure: every second the backend checks the TUN (deleted, replaced, set down, route lost) and
 * each worker's heartbeat; workers report a broken TUN or socket themselves, and an exception or
 * an exit is seen from here. A fault sets the datapath down (ctx.reportHealth: 503 with the
 * reason), is logged once at error level, and is repaired under repair-policy.ts: a TUN set down
 * is set up again; anything else restarts the datapath (workers stopped, TUN and sockets closed
 * and re-opened with the same name, address, MTU and route, workers started). When the attempts
 * run out the backend reports `failed` and the daemon exits non-zero. Every 10 s the peer table
 * is compared with the daemon's lease set and re-published if it drifted.
 */
import { OverlaydError, describeError } from '../../core/errors.js';
import { parseIpv4, type Ipv4Net } from '../../core/ipv4.js';
import { parseIpv6, type Ipv6Net } from '../../core/ipv6.js';
import { wordsOf6 } from '../../core/ipv6-words.js';
import type { Lease, LeaseEvent } from '../../core/lease.js';
import { subnetKeyOf } from '../../core/subnet-key.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { samePeerSet, SharedPeerTable, type PeerEntry } from './peer-table.js';
import { RepairPolicy, type Fault } from './repair-policy.js';
import type { TunSpec } from './tun-state.js';
import type { TunSpec6 } from './tun-state6.js';
import { PEER_CAPACITY, UdpDatapath, type MetricsShare } from './udp-datapath.js';
import { parseUdpBackendConfig } from './udp-config.js';
import type { WireSpec } from './wire/wire-spec.js';
import { armTestFault, parseTestFault, type TestFaultPlan } from './udp-test-faults.js';
import type { TestFault } from './datapath-worker.js';

/** IPv4 (20) + UDP (8): what encapsulation adds, so the TUN MTU is the underlay's minus this. */
export const UDP_OVERHEAD = 28;
/** The TUN, route and heartbeat check runs every second; the peer-table reconcile every 10th. */
const TICK_MS = 1000;
const RECONCILE_EVERY = 10;
/** A re-started worker that has not run its loop by then fails the repair attempt. */
const WORKER_START_MS = 10_000;

/**
 * What another backend on this engine changes (encap/vxlan/vxlan-userspace.ts): the TUN, port,
 * MTU, wire, and which leases are peers of the datapath. The udp backend's is flannel's udp.
 */
export interface DatapathFlavor {
  readonly tunName: string;
  readonly port: number;
  readonly mtu: number;
  /** Largest inner packet accepted from the wire (DatapathSettings.maxInner); the MTU when absent. */
  readonly maxInner?: number;
  readonly wire: WireSpec;
  /** The Network route's scope (tun-state.ts); flannel udp's universe when absent. */
  readonly routeScope?: number;
  /** The datapath's entry for a lease, or undefined when it does not go through the TUN. */
  readonly entryOf: (l: Lease) => PeerEntry | undefined;
  /**
   * 6: the IPv6 datapath of a dual-stack node (flannel-v6.<VNI>): sockets on the interface's IPv6
   * address, the TUN addressed from our lease's IPv6 subnet with the IPv6Network routed to it,
   * entries by their IPv6 fields (peer-table.ts).
   */
  readonly family?: 4 | 6;
  /** Datapaths of one backend counting into one set of metrics (udp-datapath.ts). */
  readonly metricsShare?: MetricsShare;
  /** Worker name prefix (metrics labels, logs). */
  readonly workerPrefix?: string;
}

/** The interface's IPv6 address as four words: where an IPv6 datapath's sockets bind. */
function bindIp6(ctx: BackendContext): Uint32Array {
  const ip = parseIpv6(ctx.extIface.ifaceV6Addr ?? '');
  if (ip === undefined || ctx.config.ipv6 === undefined)
    throw new OverlaydError(
      'BACKEND',
      `the IPv6 datapath needs EnableIPv6 and an interface IPv6 address (got "${ctx.extIface.ifaceV6Addr ?? ''}")`,
    );
  return Uint32Array.from(wordsOf6(ip));
}

export function createUdpBackend(ctx: BackendContext): Backend {
  return new UdpBackend(ctx);
}

export class UdpBackend implements Backend {
  readonly type = 'udp' as const;
  private readonly port: number;
  private readonly mtu: number;
  private readonly tunName: string;
  private readonly routeScope: number | undefined;
  private readonly peers = new Map<string, PeerEntry>();
  private readonly table = new SharedPeerTable(PEER_CAPACITY);
  /** False after a publish failed: the next tick publishes again. */
  private tableInSync = true;
  private readonly datapath: UdpDatapath;
  private readonly policy = new RepairPolicy(Date.now);
  private own: Ipv4Net | undefined;
  /** An IPv6 datapath's own IPv6 subnet (from the lease at start). */
  private own6: Ipv6Net | undefined;
  private readonly v6: boolean;
  private nl: RtNetlink | undefined;
  private tick: NodeJS.Timeout | undefined;
  private ticks = 0;
  private repairTimer: NodeJS.Timeout | undefined;
  private repairing: Promise<void> | undefined;
  private closed = false;
  /** The last tick's check error, logged once until it changes. */
  private lastCheckError = '';
  private readonly testPlan: TestFaultPlan | undefined;
  private disarmTestFault: (() => void) | undefined;
  /** Test-only: after the first injection with ":always", every new worker gets the fault. */
  private stickyFault: TestFault | undefined;

  /** The lease → datapath entry rule (flannel udp's, or the flavor's). */
  private readonly entryFor: (l: Lease) => PeerEntry | undefined;

  constructor(
    private readonly ctx: BackendContext,
    flavor?: DatapathFlavor,
  ) {
    this.port = flavor?.port ?? parseUdpBackendConfig(ctx.config.backend).port;
    this.mtu = flavor?.mtu ?? ctx.extIface.mtu - UDP_OVERHEAD;
    this.tunName = flavor?.tunName ?? ctx.options['tunName'] ?? 'flannel0';
    this.routeScope = flavor?.routeScope;
    this.entryFor = flavor?.entryOf ?? ((l) => this.entryOf(l));
    this.testPlan = parseTestFault(process.env['OVERLAYD_TEST_FAULT']);
    this.v6 = flavor?.family === 6;
    this.datapath = new UdpDatapath({
      tunName: this.tunName,
      mtu: this.mtu,
      ...(flavor?.maxInner !== undefined ? { maxInner: flavor.maxInner } : {}),
      port: this.port,
      bindIp: this.v6 ? bindIp6(ctx) : parseIpv4(ctx.extIface.ifaceAddr)!,
      ...(this.v6 ? { family: 6 as const } : {}),
      ...(flavor?.metricsShare ? { metricsShare: flavor.metricsShare } : {}),
      ...(flavor?.workerPrefix ? { workerPrefix: flavor.workerPrefix } : {}),
      options: ctx.options,
      log: ctx.log,
      metrics: ctx.metrics,
      table: this.table,
      onFault: (f) => this.onFault(f),
      testHooks: this.testPlan !== undefined,
      ...(flavor ? { wire: flavor.wire } : {}),
    });
  }

  async register(): Promise<Registration> {
    if (process.platform !== 'linux')
      throw new OverlaydError('BACKEND', 'the udp backend needs Linux (TUN, recvmmsg)');
    return { backendType: 'udp', mtu: this.mtu };
  }

  async start(own: Lease): Promise<void> {
    // A lease conflict may move us while a repair re-opens the datapath: let it finish first.
    await this.repairing;
    this.own = own.subnet;
    if (this.v6) {
      if (!own.ipv6Subnet)
        throw new OverlaydError(
          'BACKEND',
          `${this.tunName}: our lease has no IPv6 subnet (EnableIPv6 is on)`,
        );
      this.own6 = own.ipv6Subnet;
    }
    this.nl ??= new RtNetlink();
    if (!this.datapath.isOpen) this.datapath.open();
    this.datapath.configure(this.nl, this.spec());
    this.publish();
    if (this.datapath.workers.size === 0) this.datapath.start();
    if (this.testPlan && !this.disarmTestFault) {
      this.ctx.log.warn(
        { fault: this.testPlan },
        'OVERLAYD_TEST_FAULT is set: SIGUSR2 injects a datapath fault (test-only)',
      );
      this.disarmTestFault = armTestFault(this.testPlan, (p) => {
        if (p.always) this.stickyFault = p.fault;
        this.datapath.workers.inject(p.fault);
      });
    }
    if (!this.tick) {
      this.tick = setInterval(() => this.onTick(), TICK_MS);
      this.tick.unref();
    }
  }

  private spec(): TunSpec | TunSpec6 {
    if (this.v6)
      return {
        name: this.tunName,
        mtu: this.mtu,
        subnet: this.own6!,
        network: this.ctx.config.ipv6!.network,
      };
    const network = this.ctx.config.network;
    return { name: this.tunName, mtu: this.mtu, subnet: this.own!, network, routeScope: this.routeScope };
  }

  /** The periodic check: TUN and route state, worker heartbeats, and the peer-table reconcile. */
  private onTick(): void {
    if (this.closed || this.policy.state !== 'up') return;
    this.ticks++;
    try {
      const found = this.datapath.inspect(this.nl!, this.spec());
      if (found?.reason === 'route_lost') {
        this.ctx.log.warn(`${found.detail}; re-adding it`);
        this.datapath.configure(this.nl!, this.spec());
      } else if (found) {
        this.onFault(found);
        return;
      }
      this.datapath.workers.checkHeartbeats();
      if (this.ticks % RECONCILE_EVERY === 0) this.reconcilePeers();
      this.lastCheckError = '';
    } catch (err) {
      const problem = describeError(err);
      if (problem !== this.lastCheckError)
        this.ctx.log.error(
          { err: problem, tun: this.tunName },
          'udp datapath check failed; retrying every second',
        );
      this.lastCheckError = problem;
    }
  }

  /** Re-applies the daemon's lease set: a lost or failed update must not leave the workers stale. */
  private reconcilePeers(): void {
    const all = this.ctx.peerSet();
    if (!all) return;
    const want = new Map<string, PeerEntry>();
    for (const l of all) {
      const e = this.entryFor(l);
      if (e) want.set(subnetKeyOf(l.subnet), e);
    }
    const same = samePeerSet(want, this.peers);
    if (same && this.tableInSync) return;
    if (!same)
      this.ctx.log.warn(
        { had: this.peers.size, want: want.size },
        'udp peer table differed from the lease set; re-published it',
      );
    this.peers.clear();
    for (const [k, e] of want) this.peers.set(k, e);
    this.publish();
  }

  /** A fault from the check or a worker: report it once, then repair (or give up). */
  private onFault(f: Fault): void {
    if (this.closed) return;
    const news = this.policy.report(f);
    if (news) {
      this.ctx.log.error({ reason: f.reason }, `udp datapath down: ${f.detail}`);
      this.reportPolicy(f.reason);
    }
    this.scheduleRepair();
  }

  private reportPolicy(fault?: Fault['reason']): void {
    const state = this.policy.state;
    if (state === 'up') this.ctx.reportHealth({ state: 'up' });
    else
      this.ctx.reportHealth({
        state,
        text: this.policy.describe('udp datapath'),
        ...(fault ? { fault } : {}),
      });
  }

  private scheduleRepair(): void {
    if (this.repairTimer || this.repairing || this.closed) return;
    const ms = this.policy.msUntilAttempt();
    if (ms === undefined) {
      if (this.policy.state === 'failed') this.reportPolicy();
      return;
    }
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined;
      this.repairing = this.attemptRepair().finally(() => {
        this.repairing = undefined;
        this.scheduleRepair();
      });
    }, ms);
  }

  private async attemptRepair(): Promise<void> {
    const fault = this.policy.activeFault!;
    const attempt = this.policy.beginAttempt();
    try {
      await this.repair(fault);
      if (this.closed) return;
      this.policy.succeeded();
      // The TUN names the engine: a dual-stack backend runs two (flannel.1 and flannel-v6.1).
      this.ctx.log.info({ reason: fault.reason, attempt, tun: this.tunName }, 'udp datapath repaired');
      this.reportPolicy();
    } catch (err) {
      if (this.closed) return;
      const state = this.policy.failed(describeError(err));
      const log = { reason: fault.reason, attempt, tun: this.tunName, err: describeError(err) };
      if (state === 'failed') this.ctx.log.error(log, 'udp datapath repair failed; giving up');
      else this.ctx.log.warn(log, 'udp datapath repair attempt failed; retrying');
      this.reportPolicy();
    }
  }

  /** A TUN set down is set up again; anything else re-creates the datapath from nothing. */
  private async repair(fault: Fault): Promise<void> {
    const nl = this.nl!;
    if (fault.reason === 'tun_down') {
      this.datapath.configure(nl, this.spec());
    } else {
      await this.datapath.shutdown();
      if (this.closed) return;
      this.datapath.open();
      this.datapath.configure(nl, this.spec());
      this.publish();
      this.datapath.start(this.stickyFault);
      // Up means forwarding: the new workers have loaded and run their loop.
      await this.datapath.workers.waitBeating(WORKER_START_MS, () => this.closed);
    }
    const still = this.datapath.inspect(nl, this.spec());
    if (still) throw new OverlaydError('BACKEND', `after the repair: ${still.detail}`);
  }

  private publish(): void {
    this.tableInSync = false;
    const own6 = this.own6 ? { ip: wordsOf6(this.own6.ip), prefixLen: this.own6.prefixLen } : undefined;
    this.table.publish(this.own, [...this.peers.values()], own6);
    this.tableInSync = true;
  }

  private entryOf(l: Lease): PeerEntry {
    return {
      subnetIp: l.subnet.ip,
      prefixLen: l.subnet.prefixLen,
      publicIp: l.attrs.publicIp,
      port: this.port,
    };
  }

  /** All changes of the run go to the workers in one table update. */
  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    for (const e of events) {
      const entry = e.type === 'added' ? this.entryFor(e.lease) : undefined;
      if (entry) this.peers.set(subnetKeyOf(e.lease.subnet), entry);
      else this.peers.delete(subnetKeyOf(e.lease.subnet));
    }
    this.publish();
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    this.peers.clear();
    for (const l of all) {
      const entry = this.entryFor(l);
      if (entry) this.peers.set(subnetKeyOf(l.subnet), entry);
    }
    this.publish();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.tick);
    clearTimeout(this.repairTimer);
    this.disarmTestFault?.();
    await this.repairing;
    try {
      await this.datapath.shutdown();
    } finally {
      this.nl?.close();
    }
  }
}

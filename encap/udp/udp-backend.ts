/**
 * flannel's udp backend, fast: a TUN device (flannel0) whose packets travel between nodes as the
 * raw payload of UDP datagrams on port 8285, forwarded in userspace by worker threads: one per
 * datapath queue (a TUN queue and a UDP socket, steered by CPU: queues.ts), or two per queue with
 * --udp-workers=2 (one per direction).
 *
 * Start: probe TUN offloads (IFF_VNET_HDR + TSO/checksum) and fall back to a plain TUN; open the
 * queues (falling back to one); set the TUN up with MTU = underlay − 28, address <subnet>.0/32
 * and a route for the whole Network (as flannel); bind the UDP sockets to the interface address
 * with big buffers and UDP_GRO; start the workers. Peers go to the workers through a shared
 * table, without stopping them.
 */
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { OverlaydError, describeError } from '../../daemon/errors.js';
import { formatCidr, parseIpv4, type Ipv4Net } from '../../subnet-lease/ipv4.js';
import type { Lease } from '../../subnet-lease/lease.js';
import type { LeaseEvent } from '../../subnet-lease/lease-set.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { nativeSys } from '../sys/native.js';
import { EEXIST } from '../sys/rtnetlink/errno.js';
import { ensureOnlyAddress, findLink, setUp } from '../sys/rtnetlink/link-ops.js';
import { RtNetlink } from '../sys/rtnetlink/netlink-socket.js';
import { replaceRoute } from '../sys/rtnetlink/objects.js';
import { RT_SCOPE_UNIVERSE, RTPROT_BOOT } from '../sys/rtnetlink/constants.js';
import { C, counterBlocks, sumOf } from './counters.js';
import { keepQueues, openTun, openUdp, type TunQueues } from './open-queues.js';
import { SharedPeerTable, type PeerEntry } from './peer-table.js';
import { cpusOfQueue, queueCount } from './queues.js';
import { jitBudgetFrom, parseUdpBackendConfig } from './udp-config.js';
import { registerUdpMetrics } from './udp-metrics.js';
import type { PinReport, WorkerInit } from './datapath-worker.js';
import type { WireSpec } from '../wire/wire-spec.js';

/**
 * What another backend on this engine changes (encap/vxlan/vxlan-userspace.ts): the TUN, port,
 * MTU, wire, and which leases are peers of the datapath. The udp backend's is flannel's udp.
 */
export interface DatapathFlavor {
  readonly tunName: string;
  readonly port: number;
  readonly mtu: number;
  readonly wire: WireSpec;
  /** One route for the whole Network via the TUN (udp); false: the owner routes each peer. */
  readonly networkRoute: boolean;
  /** The datapath's entry for a lease, or undefined when it does not go through the TUN. */
  readonly entryOf: (l: Lease) => PeerEntry | undefined;
}

/** IPv4 (20) + UDP (8): what encapsulation adds, so the TUN MTU is the underlay's minus this. */
export const UDP_OVERHEAD = 28;
const SOCKET_BUFFER = 7 << 20;
const BATCH = 64;
const PEER_CAPACITY = 65536;
const HEADROOM = 32; // the workers' (datapath-worker.ts)
/**
 * V8 optimizes a function after it has run ~200 KB of bytecode (3 × 67584). At the packet rates of
 * interactive traffic (a ping every 10 ms) the per-packet functions never get there and run as
 * baseline code, whose property loads go through inline-cache stubs: on a cold CPU that doubles
 * the time a packet spends in JS. A smaller budget gets them optimized after a few hundred
 * packets; bench/rtt's udp-jit-default row is the A/B (RTT p50 0.46 → 0.39 ms on the lab VMs).
 * The flag is process-wide; it only moves when optimization happens, not what is optimized.
 */
const JIT_INTERRUPT_BUDGET = 512;

export function createUdpBackend(ctx: BackendContext): Backend {
  return new UdpBackend(ctx);
}

export class UdpBackend implements Backend {
  readonly type = 'udp' as const;
  private readonly port: number;
  private readonly mtu: number;
  private readonly peers = new Map<string, PeerEntry>();
  private readonly table = new SharedPeerTable(PEER_CAPACITY);
  private counters = counterBlocks(1);
  private own: Ipv4Net | undefined;
  /** Queue q is tunFds[q] and udpFds[q]. */
  private tunFds: number[] = [];
  private udpFds: number[] = [];
  private vnet = false;
  private gro = false;
  /** Scatter-gather GSO sends and GRO writes (probed; --udp-sg=off for the copying path). */
  private sg = false;
  private readonly workers: Worker[] = [];
  private readonly exits: Promise<unknown>[] = [];
  private readonly batching: boolean;
  /** One duplex worker (default), or a tx and an rx worker. */
  private readonly split: boolean;

  private readonly flavor: DatapathFlavor;

  constructor(
    private readonly ctx: BackendContext,
    flavor?: DatapathFlavor,
  ) {
    this.port = flavor?.port ?? parseUdpBackendConfig(ctx.config.backend).port;
    this.mtu = flavor?.mtu ?? ctx.extIface.mtu - UDP_OVERHEAD;
    this.flavor = flavor ?? {
      tunName: ctx.options['tunName'] ?? 'flannel0',
      port: this.port,
      mtu: this.mtu,
      wire: { kind: 'udp' },
      networkRoute: true,
      entryOf: (l) => this.entryOf(l),
    };
    this.batching = ctx.options['udpBatch'] !== 'off';
    this.split = ctx.options['udpWorkers'] === '2';
  }

  async register(): Promise<Registration> {
    if (process.platform !== 'linux')
      throw new OverlaydError('BACKEND', 'the udp backend needs Linux (TUN, recvmmsg)');
    return { backendType: 'udp', mtu: this.mtu };
  }

  async start(own: Lease): Promise<void> {
    this.own = own.subnet;
    if (this.tunFds.length === 0) this.open();
    this.configureTun(own.subnet);
    this.publish();
    if (this.workers.length === 0) this.startWorkers();
  }

  private open(): void {
    const sys = nativeSys();
    const name = this.flavor.tunName;
    const onlineCpus = cpus().length;
    let queues: number;
    try {
      queues = queueCount(this.ctx.options['udpQueues'], onlineCpus);
    } catch (err) {
      throw new OverlaydError('BAD_CONFIG', `--udp-queues: ${describeError(err)}`, { cause: err });
    }
    // The port first: it is what tells a second flanneld/overlayd on this node.
    const bindIp = parseIpv4(this.ctx.extIface.ifaceAddr)!;
    const udp = openUdp(bindIp, this.port, queues, SOCKET_BUFFER);
    let tun: TunQueues;
    try {
      tun = openTun(name, udp.fds.length, this.ctx.options['udpOffloads'] !== 'off');
    } catch (err) {
      keepQueues(udp.fds, 0);
      throw err;
    }
    keepQueues(udp.fds, tun.fds.length);
    for (const problem of [...udp.problems, ...tun.problems]) this.ctx.log.warn(problem);
    this.tunFds = tun.fds;
    this.udpFds = udp.fds;
    this.vnet = tun.vnet;
    this.gro = this.vnet && this.udpFds.every((fd) => sys.udpSetGro(fd, true));
    this.sg = this.vnet && this.ctx.options['udpSg'] !== 'off' && this.probeSg(sys.sgProbe());
    const roles = this.roles();
    const names = this.tunFds.flatMap((_, q) => roles.map((role) => `${role}-${q}`));
    this.counters = counterBlocks(names.length);
    this.ctx.log.info(
      {
        tun: name,
        mtu: this.mtu,
        port: this.port,
        tunOffloads: this.vnet,
        udpGso: this.vnet,
        udpGro: this.gro,
        scatterGather: this.sg,
        batching: this.batching,
        queues: this.tunFds.length,
        onlineCpus,
        workers: names,
      },
      'udp datapath opened',
    );
    const blocks = this.counters.blocks;
    registerUdpMetrics(
      this.ctx.metrics,
      blocks,
      {
        tunVnetHdr: this.vnet,
        udpGro: this.gro,
        udpGso: () => this.vnet && sumOf(blocks, C.gsoDisabled) === 0,
        batching: this.batching,
        scatterGather: this.sg,
        queues: this.tunFds.length,
      },
      names,
    );
  }

  /** sgProbe's answer (0 or an errno); a refusal is logged and the copying path used. */
  private probeSg(errno: number): boolean {
    if (errno !== 0)
      this.ctx.log.warn(
        { errno },
        'this kernel does not send a UDP_SEGMENT message made of iovecs intact; GSO segments are copied instead (scatter-gather off)',
      );
    return errno === 0;
  }

  private roles(): readonly WorkerInit['role'][] {
    return this.split ? ['tx', 'rx'] : ['duplex'];
  }

  /** flannel: address <lease network IP>/32, MTU, up, and a route for the whole Network via the TUN. */
  private configureTun(subnet: Ipv4Net): void {
    const name = this.flavor.tunName;
    const nl = new RtNetlink();
    try {
      const link = findLink(nl, name);
      if (!link) throw new OverlaydError('BACKEND', `TUN ${name} vanished after it was opened`);
      setUp(nl, link.index, this.mtu);
      ensureOnlyAddress(nl, link.index, subnet.ip, 32, this.ctx.config.network);
      if (!this.flavor.networkRoute) return;
      const net = this.ctx.config.network;
      nl.request(
        `route ${formatCidr(net)} dev ${name}`,
        replaceRoute({
          dst: net.ip,
          dstLen: net.prefixLen,
          oif: link.index,
          protocol: RTPROT_BOOT,
          scope: RT_SCOPE_UNIVERSE,
        }),
        [EEXIST],
      );
    } finally {
      nl.close();
    }
  }

  private startWorkers(): void {
    // OVERLAYD_JIT_BUDGET=67584 restores V8's default, for A/B runs (bench/rtt.ts does this).
    const jit = jitBudgetFrom(process.env, JIT_INTERRUPT_BUDGET);
    if (jit.problem) this.ctx.log.warn(jit.problem);
    setFlagsFromString(`--interrupt-budget=${jit.budget}`);
    // With offloads a slot holds a 64 KiB super-packet, or the segments cut from one: those repeat
    // the headers (up to ~120 segments × 60 bytes at the smallest MSS), hence the extra 8 KiB.
    const slotSize = this.vnet ? 65536 + 8192 + HEADROOM : Math.max(2048, (this.mtu + 64 + 15) & ~15);
    const queues = this.tunFds.length;
    const onlineCpus = cpus().length;
    let block = 0;
    for (let q = 0; q < queues; q++)
      for (const role of this.roles()) {
        const name = `${role}-${q}`;
        const init: WorkerInit = {
          role,
          tunFd: this.tunFds[q]!,
          udpFd: this.udpFds[q]!,
          tableSab: this.table.buffer,
          tableCapacity: PEER_CAPACITY,
          countersSab: this.counters.sab,
          block: block++,
          // One queue serves every CPU: the scheduler places its worker best.
          cpus: queues > 1 ? cpusOfQueue(q, queues, onlineCpus) : [],
          options: {
            vnet: this.vnet,
            gso: this.vnet,
            sg: this.sg,
            batch: this.batching ? BATCH : 1,
            maxPacket: this.mtu,
          },
          slots: (this.batching ? BATCH : 1) * 2 + 8,
          slotSize,
          wire: this.flavor.wire,
        };
        this.startWorker(name, init);
      }
  }

  private startWorker(name: string, init: WorkerInit): void {
    const w = new Worker(new URL('./datapath-worker.js', import.meta.url), {
      workerData: init,
      name: `overlayd-${name}`,
    });
    w.on('message', (m: PinReport) => {
      if (!m.pinned)
        this.ctx.log.warn(
          { worker: name, cpus: init.cpus, errno: m.errno },
          'datapath worker could not be pinned to its CPUs (a cpuset?); it runs where the scheduler puts it',
        );
    });
    w.on('error', (err) =>
      this.ctx.log.error({ worker: name, err: describeError(err) }, 'datapath worker failed'),
    );
    this.exits.push(new Promise((r) => w.once('exit', r)));
    w.on('exit', (code) => {
      if (!this.table.stopRequested())
        this.ctx.log.error({ worker: name, code }, 'datapath worker exited unexpectedly');
    });
    this.workers.push(w);
  }

  private publish(): void {
    this.table.publish(this.own, [...this.peers.values()]);
  }

  private static key(l: Lease): string {
    return `${l.subnet.ip}/${l.subnet.prefixLen}`;
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
      const entry = e.type === 'added' ? this.flavor.entryOf(e.lease) : undefined;
      if (entry) this.peers.set(UdpBackend.key(e.lease), entry);
      else this.peers.delete(UdpBackend.key(e.lease));
    }
    this.publish();
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    this.peers.clear();
    for (const l of all) {
      const entry = this.flavor.entryOf(l);
      if (entry) this.peers.set(UdpBackend.key(l), entry);
    }
    this.publish();
  }

  async close(): Promise<void> {
    this.table.requestStop();
    await Promise.all(this.exits);
    this.workers.length = 0;
    this.exits.length = 0;
    keepQueues(this.udpFds, 0);
    keepQueues(this.tunFds, 0);
  }
}

/**
 * The udp backend's datapath proper: its file descriptors (a TUN queue and a UDP socket per
 * queue), the shared counters and their metrics, and the workers. open() → configure() → start()
 * brings it up; shutdown() takes it down to nothing (workers stopped, fds closed; closing the last
 * queue of a non-persistent TUN deletes the device), so the same three calls re-create it after
 * a fault with the same name, address, MTU, route, queue count and counters.
 *
 * Open: probe TUN offloads (IFF_VNET_HDR + TSO/checksum) and fall back to a plain TUN; open the
 * queues (falling back to one); bind the UDP sockets to the interface address with big buffers
 * and UDP_GRO. An IPv6 datapath (family 6: the userspace flannel-v6.<VNI>) binds AF_INET6
 * sockets to the interface's IPv6 address and programs its TUN with tun-state6.ts; its counters
 * join the IPv4 datapath's metrics (MetricsShare) under worker names of its own.
 */
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { Logger } from 'pino';
import { OverlaydError, describeError } from '../../core/errors.js';
import type { Registry } from 'prom-client';
import type { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { C, counterBlocks, sumOf } from './counters.js';
import { probeScatterGather } from '../../sys/native-io.js';
import { keepQueues, openTun, openUdp, type TunQueues, enableUdpGro } from '../../sys/open-queues.js';
import type { SharedPeerTable } from './peer-table.js';
import { cpusOfQueue, queueCount } from './queues.js';
import type { Fault } from './repair-policy.js';
import { configureTun, inspectTun, type TunFinding, type TunSpec } from './tun-state.js';
import { configureTun6, inspectTun6, type TunSpec6 } from './tun-state6.js';
import { jitBudgetFrom } from './udp-config.js';
import { registerUdpMetrics, type OffloadState } from './udp-metrics.js';
import { WorkerSet } from './worker-set.js';
import type { TestFault, WorkerInit } from './datapath-worker.js';
import type { WireSpec } from './wire/wire-spec.js';

const SOCKET_BUFFER = 7 << 20;
const BATCH = 64;
export const PEER_CAPACITY = 65536;
const HEADROOM = 32; // the workers' (datapath-worker.ts): room for a wire header
/**
 * V8 optimizes a function after it has run ~200 KB of bytecode (3 × 67584). At the packet rates of
 * interactive traffic (a ping every 10 ms) the per-packet functions never get there and run as
 * baseline code, whose property loads go through inline-cache stubs: on a cold CPU that doubles
 * the time a packet spends in JS. A smaller budget gets them optimized after a few hundred
 * packets; bench/rtt's udp-jit-default row is the A/B (RTT p50 0.46 → 0.39 ms on the lab VMs).
 * The flag is process-wide; it only moves when optimization happens, not what is optimized.
 */
const JIT_INTERRUPT_BUDGET = 512;
/** V8's own (Node 20): what workers boot with. */
const V8_DEFAULT_INTERRUPT_BUDGET = 67584;

export interface DatapathSettings {
  readonly tunName: string;
  readonly mtu: number;
  /**
   * Largest inner packet accepted from the wire; the TUN MTU when absent. Larger only where a
   * compatible peer may send more than our device takes (flanneld's flannel-v6, below).
   */
  readonly maxInner?: number;
  readonly port: number;
  /** The interface address the sockets bind to (host order; an IPv6 datapath's as four words). */
  readonly bindIp: number | Uint32Array;
  /** 6: inner IPv6 over an IPv6 underlay (EngineOptions.family); 4 when absent. */
  readonly family?: 4 | 6;
  /**
   * Datapaths of one backend that count into one set of metrics (the userspace VXLAN's two
   * devices): the first to open registers them, the others add their blocks and worker names.
   */
  readonly metricsShare?: MetricsShare;
  /** Put in front of the worker names (metrics labels, logs): "v6-" for the IPv6 datapath. */
  readonly workerPrefix?: string;
  readonly options: Readonly<Record<string, string>>;
  readonly log: Logger;
  readonly metrics: Registry;
  readonly table: SharedPeerTable;
  readonly onFault: (f: Fault) => void;
  /** Test-only (udp-test-faults.ts): listen for injected faults. */
  readonly testHooks: boolean;
  /** The wire format (flannel's udp wire when absent: encap/udp/wire/). */
  readonly wire?: WireSpec;
}

/** The counter blocks and worker names the shared metrics read at every scrape (udp-metrics.ts). */
export interface MetricsShare {
  readonly blocks: Float64Array[];
  readonly workers: string[];
  registered: boolean;
}

export class UdpDatapath {
  /** Queue q is tunFds[q] and udpFds[q]. */
  private tunFds: number[] = [];
  private udpFds: number[] = [];
  private tunIndex = 0;
  private vnet = false;
  /** Scatter-gather GSO sends and GRO writes (probed; --udp-sg=off for the copying path). */
  private sg = false;
  private counters: ReturnType<typeof counterBlocks> | undefined;
  private offloads: OffloadState | undefined;
  /** Queues wanted: from --udp-queues at the first open, then what that open got. */
  private queues = 0;
  readonly workers: WorkerSet;
  private readonly batching: boolean;
  /** One duplex worker (default), or a tx and an rx worker. */
  private readonly split: boolean;
  private readonly wg: boolean;

  constructor(private readonly s: DatapathSettings) {
    this.batching = s.options['udpBatch'] !== 'off';
    // WireGuard's sessions and keys live in one worker's data plane (wg-dataplane.ts): one duplex
    // worker on one queue, whatever --udp-workers/--udp-queues say.
    this.wg = s.wire?.kind === 'wireguard';
    this.split = !this.wg && s.options['udpWorkers'] === '2';
    this.workers = new WorkerSet(s.log, s.table, () => this.counters?.blocks ?? [], s.onFault);
  }

  get isOpen(): boolean {
    return this.tunFds.length > 0;
  }

  open(): void {
    const { s } = this;
    const onlineCpus = cpus().length;
    if (this.queues === 0) {
      try {
        this.queues = this.wg ? 1 : queueCount(s.options['udpQueues'], onlineCpus);
      } catch (err) {
        throw new OverlaydError('BAD_CONFIG', `--udp-queues: ${describeError(err)}`, { cause: err });
      }
    }
    // The port first: it is what tells a second flanneld/overlayd on this node.
    const udp = openUdp(s.bindIp, s.port, this.queues, SOCKET_BUFFER);
    let tun: TunQueues;
    try {
      tun = openTun(s.tunName, udp.fds.length, s.options['udpOffloads'] !== 'off');
    } catch (err) {
      keepQueues(udp.fds, 0);
      throw err;
    }
    keepQueues(udp.fds, tun.fds.length);
    for (const problem of [...udp.problems, ...tun.problems]) s.log.warn(problem);
    this.tunFds = tun.fds;
    this.udpFds = udp.fds;
    this.queues = tun.fds.length;
    this.vnet = tun.vnet;
    const gro = this.vnet && enableUdpGro(this.udpFds);
    // The WireGuard wire frames every segment itself (a header per packet): copying path only.
    this.sg = this.vnet && !this.wg && s.options['udpSg'] !== 'off' && this.probeSg(probeScatterGather());
    const names = this.workerNames();
    s.log.info(
      {
        tun: s.tunName,
        mtu: s.mtu,
        port: s.port,
        tunOffloads: this.vnet,
        udpGso: this.vnet,
        udpGro: gro,
        scatterGather: this.sg,
        batching: this.batching,
        queues: this.queues,
        onlineCpus,
        workers: names,
      },
      'udp datapath opened',
    );
    if (!this.counters) {
      // Once per process: a re-opened datapath counts on in the same blocks (counters never reset).
      const counters = counterBlocks(names.length);
      this.counters = counters;
      this.offloads = {
        tunVnetHdr: this.vnet,
        udpGro: gro,
        udpGso: () => this.vnet && sumOf(counters.blocks, C.gsoDisabled) === 0,
        batching: this.batching,
        scatterGather: this.sg,
        queues: this.queues,
      };
      const share = s.metricsShare;
      if (!share) registerUdpMetrics(s.metrics, counters.blocks, this.offloads, names);
      else {
        share.blocks.push(...counters.blocks);
        share.workers.push(...names);
        // The offload gauges are the first datapath's (the IPv4 one): both open their TUN alike.
        if (!share.registered) registerUdpMetrics(s.metrics, share.blocks, this.offloads, share.workers);
        share.registered = true;
      }
    } else {
      Object.assign(this.offloads!, {
        tunVnetHdr: this.vnet,
        udpGro: gro,
        scatterGather: this.sg,
        queues: this.queues,
      });
    }
  }

  /** sgProbe's answer (0 or an errno); a refusal is logged and the copying path used. */
  private probeSg(errno: number): boolean {
    if (errno !== 0)
      this.s.log.warn(
        { errno },
        'this kernel does not send a UDP_SEGMENT message made of iovecs intact; GSO segments are copied instead (scatter-gather off)',
      );
    return errno === 0;
  }

  private roles(): readonly WorkerInit['role'][] {
    return this.split ? ['tx', 'rx'] : ['duplex'];
  }

  private workerNames(): string[] {
    const prefix = this.s.workerPrefix ?? '';
    return this.tunFds.flatMap((_, q) => this.roles().map((role) => `${prefix}${role}-${q}`));
  }

  /** Programs the TUN for `spec` (flannel: address <subnet>.0/32, MTU, up, the Network route; IPv6: /128 and the IPv6Network). */
  configure(nl: RtNetlink, spec: TunSpec | TunSpec6): void {
    this.tunIndex = isSpec6(spec) ? configureTun6(nl, spec) : configureTun(nl, spec);
  }

  inspect(nl: RtNetlink, spec: TunSpec | TunSpec6): TunFinding {
    return isSpec6(spec) ? inspectTun6(nl, spec, this.tunIndex) : inspectTun(nl, spec, this.tunIndex);
  }

  start(testFault?: TestFault): void {
    const { s } = this;
    // OVERLAYD_JIT_BUDGET=67584 restores V8's default, for A/B runs (bench/rtt.ts does this).
    const jit = jitBudgetFrom(process.env, JIT_INTERRUPT_BUDGET);
    if (jit.problem) s.log.warn(jit.problem);
    // Not while workers boot: the flag is process-wide, and with a small budget V8 optimizes node's
    // own bootstrap code in every new worker. With --udp-queues=auto --udp-workers=2 (4 workers)
    // that took booting from ~0.5 s to several seconds, most of a repair's downtime after the TUN
    // was deleted. The per-packet functions get the small budget once the workers forward.
    setFlagsFromString(`--interrupt-budget=${V8_DEFAULT_INTERRUPT_BUDGET}`);
    this.workers.whenAllBeating(() => setFlagsFromString(`--interrupt-budget=${jit.budget}`));
    // With offloads a slot holds a 64 KiB super-packet, or the segments cut from one: those repeat
    // the headers (up to ~120 segments × 60 bytes at the smallest MSS), hence the extra 8 KiB.
    const inner = Math.max(s.mtu, s.maxInner ?? 0);
    const slotSize = this.vnet ? 65536 + 8192 + HEADROOM : Math.max(2048, (inner + 64 + 15) & ~15);
    const queues = this.tunFds.length;
    const onlineCpus = cpus().length;
    let block = 0;
    for (let q = 0; q < queues; q++)
      for (const role of this.roles()) {
        const init: WorkerInit = {
          role,
          tunFd: this.tunFds[q]!,
          udpFd: this.udpFds[q]!,
          tableSab: s.table.buffer,
          tableCapacity: PEER_CAPACITY,
          countersSab: this.counters!.sab,
          block: block++,
          // One queue serves every CPU: the scheduler places its worker best.
          cpus: queues > 1 ? cpusOfQueue(q, queues, onlineCpus) : [],
          options: {
            vnet: this.vnet,
            gso: this.vnet,
            sg: this.sg,
            batch: this.batching ? BATCH : 1,
            maxPacket: s.maxInner ?? s.mtu,
            ...(s.family === 6 ? { family: 6 as const } : {}),
          },
          ...(s.wire ? { wire: s.wire } : {}),
          slots: (this.batching ? BATCH : 1) * 2 + 8,
          slotSize,
          tunName: s.tunName,
          testHooks: s.testHooks,
          ...(testFault ? { testFault } : {}),
        };
        this.workers.start(`${role}-${q}`, init);
      }
  }

  /**
   * Workers stopped (bounded), then every fd closed. When a worker cannot be stopped its fds are
   * left open (another thread is still in a call on them) and the error is thrown.
   */
  async shutdown(): Promise<void> {
    await this.workers.stop();
    keepQueues(this.udpFds, 0);
    keepQueues(this.tunFds, 0);
  }
}

const isSpec6 = (spec: TunSpec | TunSpec6): spec is TunSpec6 => typeof spec.subnet.ip === 'bigint';

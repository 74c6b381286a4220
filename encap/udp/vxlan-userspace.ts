/**
 * The vxlan backend without kernel VXLAN: the udp backend's engine (TUN ⇄ UDP worker threads) on
 * the VXLAN wire (encap/wire/vxlan-wire.ts), for hosts where a vxlan device cannot be created
 * (no vxlan module: many containers and minimal kernels) but /dev/net/tun exists.
 *
 * To the other nodes it is a kernel-VXLAN node: the lease is flannel's (BackendType vxlan,
 * BackendData {VNI, VtepMAC}, the MAC kept from our previous lease), datagrams go to a peer's
 * PublicIP on the VXLAN port (8472 unless Backend.Port) and are received on it, so a flanneld
 * peer's flannel.<VNI> programs us with its neighbour/FDB entries as it programs any node.
 *
 * Locally: a TUN named flannel.<VNI>, the device the kernel backend would create, so tooling and
 * runbooks that look for flannel.1 find the overlay there; MTU = base − 50 as the kernel device;
 * address <subnet>.0/32; the Network via the TUN (as the udp backend: an address without a lease
 * gets ICMP net unreachable) and a route per peer subnet `dev flannel.<VNI>` (no gateway: a TUN
 * has no neighbours, the engine picks the peer by destination). DirectRouting peers on our L2 get
 * `via <PublicIP>` as with the kernel device, and bypass the TUN.
 *
 * Dual-stack (EnableIPv6 + IPv6Network): a second engine instance for flannel's second device, as
 * the kernel backend has flannel.<VNI> and flannel-v6.<VNI> — a TUN flannel-v6.<VNI> (MTU base −
 * 70, the kernel's v6 device's; address <IPv6 subnet>/128; the IPv6Network and a route per peer
 * IPv6 subnet via it), AF_INET6 sockets on the interface's IPv6 address and the same port, the
 * VXLAN wire with EtherType 86DD, and its own VtepMAC published as BackendV6Data {VNI, VtepMAC}
 * (kept from our previous lease like the v4 one). Two engines, not one engine of two families: a
 * VXLAN device is one L2 segment with one MAC, flannel's peers hold a neighbour/FDB pair per device
 * and address family, and each engine's peer key (PublicIP vs PublicIPv6), route table and socket
 * are one family's — the per-packet code stays one family's too. Both count into one set of udp
 * metrics (the v6 workers are "v6-duplex-0", …); the worse of the two healths is reported.
 * DirectRouting IPv6 peers on our L2 get `via <PublicIPv6>`, as the kernel backend gives them.
 */
import { OverlaydError } from '../../core/errors.js';
import type { Lease, LeaseEvent } from '../../core/lease.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelMetrics } from '../kernel/kernel-metrics.js';
import { KernelSync, type PeerEntries } from '../kernel/kernel-sync.js';
import { PeerProgrammer } from '../kernel/peer-programmer.js';
import { OVERLAYD_RTPROT, PeriodicReconciler } from '../kernel/periodic.js';
import { parseMac } from '../../sys/rtnetlink/codec.js';
import { RT_SCOPE_LINK } from '../../sys/rtnetlink/constants.js';
import { findLink } from '../../sys/rtnetlink/link-ops.js';
import { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { deleteLink, getRoute, parseRoute } from '../../sys/rtnetlink/objects.js';
import { getRoute6, parseRoute6 } from '../../sys/rtnetlink/objects6.js';
import { wordsOf6 } from '../../core/ipv6-words.js';
import { combinedHealthContexts } from './combined-health.js';
import type { RouteSpec6 } from '../../sys/rtnetlink/objects6.js';
import type { PeerEntry } from './peer-table.js';
import { UdpBackend } from './udp-backend.js';
import type { MetricsShare } from './udp-datapath.js';
import { macWords } from './wire/vxlan-wire.js';
import { VXLAN6_OVERHEAD, VXLAN_OVERHEAD } from '../vxlan-config.js';
import { refuseBelowIpv6MinMtu } from '../ipv6-min-mtu.js';
import { LINUX_VXLAN_PORT, parseVtep, randomVtepMac, type VxlanConfig } from '../vxlan-config.js';

/** Options only the kernel's device implements: refused, never silently ignored. */

export function refuseKernelOnly(cfg: VxlanConfig): void {
  for (const [on, field] of [
    [cfg.gbp, 'GBP'],
    [cfg.learning, 'Learning'],
  ] as const)
    if (on)
      throw new OverlaydError(
        'BAD_CONFIG',
        `network config: Backend.${field} is not supported by the userspace vxlan datapath; remove it or run with --vxlan-datapath=kernel`,
      );
}

export class UserspaceVxlanBackend implements Backend {
  readonly type = 'vxlan' as const;
  private readonly nl = new RtNetlink();
  private readonly name: string;
  private readonly port: number;
  private readonly mtu: number;
  private readonly metrics: KernelMetrics;
  private readonly programmer: PeerProgrammer;
  private readonly periodic: PeriodicReconciler;
  private engine: UdpBackend | undefined;
  private mac = '';
  private tunIndex = 0;
  /** PublicIP → on our L2 (DirectRouting), asked of the kernel once per peer address. */
  private readonly direct = new Map<number, boolean>();
  /** Dual-stack: the IPv6 device's engine, name, MTU, VtepMAC and TUN index. */
  private readonly dual: boolean;
  private engine6: UdpBackend | undefined;
  private readonly name6: string;
  private readonly mtu6: number;
  private mac6 = '';
  private tunIndex6 = 0;
  private readonly direct6 = new Map<bigint, boolean>();
  /** Each engine's context (0: IPv4, 1: IPv6): its health combined with the other's. */
  private readonly engineCtx: [BackendContext, BackendContext];

  constructor(
    private readonly ctx: BackendContext,
    private readonly cfg: VxlanConfig,
  ) {
    refuseKernelOnly(cfg);
    this.engineCtx = combinedHealthContexts(ctx);
    this.name = `flannel.${cfg.vni}`;
    this.port = cfg.port || LINUX_VXLAN_PORT;
    this.mtu = (cfg.mtu ?? ctx.extIface.mtu) - VXLAN_OVERHEAD;
    this.dual = ctx.config.ipv6 !== undefined;
    this.name6 = `flannel-v6.${cfg.vni}`;
    this.mtu6 = (cfg.mtu ?? ctx.extIface.mtu) - VXLAN6_OVERHEAD;
    if (this.dual) refuseBelowIpv6MinMtu(this.name6, cfg.mtu ?? ctx.extIface.mtu, VXLAN6_OVERHEAD);
    this.metrics = new KernelMetrics(ctx.metrics);
    this.programmer = new PeerProgrammer({
      sync: new KernelSync(this.nl, this.metrics, ctx.log),
      metrics: this.metrics,
      log: ctx.log,
      entriesOf: (l) => this.routesOf(l),
      // Dual-stack: our v6 routes are reconciled too (the TUN has no neighbours or FDB to compare).
      scope: () => ({
        protocol: OVERLAYD_RTPROT,
        ...(this.dual ? { ipv6: true, device6: this.tunIndex6 } : {}),
      }),
      addFailure: { message: 'cannot route to peer; the periodic reconcile will retry' },
    });
    // Every second: a TUN the engine re-created (repair after a deletion) has a new ifindex, and
    // the per-peer routes went with the old device; they are re-added through the new one at once.
    this.periodic = new PeriodicReconciler(
      ctx.log,
      () => {
        if (this.refreshTunIndexes()) this.programmer.reconcile();
      },
      () => this.programmer.reconcile(),
    );
  }

  get vtepMac(): string {
    return this.mac;
  }

  async register(): Promise<Registration> {
    if (process.platform !== 'linux')
      throw new OverlaydError('BACKEND', 'the userspace vxlan datapath needs Linux (TUN, recvmmsg)');
    // Peers hold our VtepMAC in their neighbour and FDB tables: keep the one our lease published.
    this.mac = parseVtep(this.ctx.previousLease?.attrs.backendData)?.mac ?? randomVtepMac();
    // A kernel vxlan device of that name (an earlier run with --vxlan-datapath=kernel) goes.
    const old = findLink(this.nl, this.name);
    if (old && old.kind !== 'tun') {
      this.ctx.log.warn({ device: this.name, kind: old.kind }, 'replacing the device with the userspace TUN');
      this.nl.request(`delete ${this.name}`, deleteLink(old.index));
    }
    const mac = parseMac(this.mac)!;
    const share: MetricsShare | undefined = this.dual
      ? { blocks: [], workers: [], registered: false }
      : undefined;
    this.engine = new UdpBackend(this.engineCtx[0], {
      tunName: this.name,
      port: this.port,
      mtu: this.mtu,
      wire: { kind: 'vxlan', vni: this.cfg.vni, vtepMac: [...mac] },
      entryOf: (l) => this.entryOf(l),
      ...(share ? { metricsShare: share } : {}),
    });
    const backendData = { VNI: this.cfg.vni, VtepMAC: this.mac };
    if (!this.dual) return { backendType: 'vxlan', backendData, mtu: this.mtu };
    if (!this.ctx.extIface.publicIpv6 || !this.ctx.extIface.ifaceV6Addr)
      throw new OverlaydError(
        'BACKEND',
        'dual-stack userspace vxlan: the external interface has no IPv6 address; give --public-ipv6 or an interface with a global IPv6 address',
      );
    this.mac6 = parseVtep(this.ctx.previousLease?.attrs.backendV6Data)?.mac ?? randomVtepMac();
    const old6 = findLink(this.nl, this.name6);
    if (old6 && old6.kind !== 'tun') {
      this.ctx.log.warn(
        { device: this.name6, kind: old6.kind },
        'replacing the device with the userspace TUN',
      );
      this.nl.request(`delete ${this.name6}`, deleteLink(old6.index));
    }
    this.engine6 = new UdpBackend(this.engineCtx[1], {
      tunName: this.name6,
      port: this.port,
      mtu: this.mtu6,
      // flanneld sizes its flannel-v6 device at base - 50, as its IPv4 one (flannel issue #1781:
      // VXLAN over IPv6 needs 70), and its kernel fragments the outer packet of a larger inner one.
      // The kernel's VXLAN receives those whole; so do we, instead of dropping them as oversized.
      maxInner: this.mtu6 + VXLAN6_OVERHEAD - VXLAN_OVERHEAD,
      wire: { kind: 'vxlan', vni: this.cfg.vni, vtepMac: [...parseMac(this.mac6)!], inner: 6 },
      entryOf: (l) => this.entry6Of(l),
      family: 6,
      metricsShare: share!,
      workerPrefix: 'v6-',
    });
    return {
      backendType: 'vxlan',
      backendData,
      backendV6Data: { VNI: this.cfg.vni, VtepMAC: this.mac6 },
      // FLANNEL_MTU: the smaller of the two, the IPv6 device's (as the kernel backend).
      mtu: Math.min(this.mtu, this.mtu6),
    };
  }

  async start(own: Lease): Promise<void> {
    await this.engine!.start(own); // opens the TUN (once), address, MTU, up
    const link = findLink(this.nl, this.name);
    if (!link) throw new OverlaydError('BACKEND', `TUN ${this.name} vanished after it was opened`);
    this.tunIndex = link.index;
    this.ctx.log.info(
      { device: this.name, vni: this.cfg.vni, mac: this.mac, mtu: this.mtu, port: this.port },
      'userspace vxlan datapath started',
    );
    if (this.engine6) {
      await this.engine6.start(own); // flannel-v6.<VNI>: its TUN, /128 address, IPv6Network route
      const link6 = findLink(this.nl, this.name6);
      if (!link6) throw new OverlaydError('BACKEND', `TUN ${this.name6} vanished after it was opened`);
      this.tunIndex6 = link6.index;
      this.ctx.log.info(
        { device: this.name6, vni: this.cfg.vni, mac: this.mac6, mtu: this.mtu6, port: this.port },
        'userspace vxlan IPv6 datapath started',
      );
    }
    this.periodic.start();
  }

  /** Re-reads the TUNs' ifindexes; true when one changed (the engine re-created its TUN). */
  private refreshTunIndexes(): boolean {
    let changed = false;
    const v4 = findLink(this.nl, this.name);
    if (v4 && v4.index !== this.tunIndex) {
      this.tunIndex = v4.index;
      changed = true;
    }
    if (this.engine6) {
      const v6 = findLink(this.nl, this.name6);
      if (v6 && v6.index !== this.tunIndex6) {
        this.tunIndex6 = v6.index;
        changed = true;
      }
    }
    return changed;
  }

  /** The datapath's peer: a vxlan lease not reached directly. */
  private entryOf(l: Lease): PeerEntry | undefined {
    if (l.attrs.backendType !== 'vxlan') return undefined;
    const vtep = parseVtep(l.attrs.backendData);
    if (!vtep || this.isDirect(l.attrs.publicIp)) return undefined;
    const { ip, prefixLen } = l.subnet;
    return {
      subnetIp: ip,
      prefixLen,
      publicIp: l.attrs.publicIp,
      port: this.port,
      ...macWords(parseMac(vtep.mac)!),
    };
  }

  /**
   * The IPv6 datapath's peer: a vxlan lease with an IPv6 subnet, a PublicIPv6 and usable
   * BackendV6Data, not reached directly. A single-stack peer has none (v4 only, as with flanneld).
   */
  private entry6Of(l: Lease): PeerEntry | undefined {
    if (l.attrs.backendType !== 'vxlan') return undefined;
    const vtep = parseVtep(l.attrs.backendV6Data);
    const sn6 = l.ipv6Subnet;
    const pub6 = l.attrs.publicIpv6;
    if (!vtep || !sn6 || pub6 === undefined || this.isDirect6(pub6)) return undefined;
    return {
      subnetIp: 0,
      prefixLen: 0,
      publicIp: 0,
      port: this.port,
      ...macWords(parseMac(vtep.mac)!),
      publicIp6: Uint32Array.from(wordsOf6(pub6)),
      subnetIp6: Uint32Array.from(wordsOf6(sn6.ip)),
      prefixLen6: sn6.prefixLen,
    };
  }

  private routesOf(l: Lease): PeerEntries | string {
    if (l.attrs.backendType !== 'vxlan') return 'other_backend';
    if (!parseVtep(l.attrs.backendData)) return 'bad_backend_data';
    const { ip, prefixLen } = l.subnet;
    const route = this.isDirect(l.attrs.publicIp)
      ? { dst: ip, dstLen: prefixLen, gateway: l.attrs.publicIp, protocol: OVERLAYD_RTPROT }
      : { dst: ip, dstLen: prefixLen, oif: this.tunIndex, scope: RT_SCOPE_LINK, protocol: OVERLAYD_RTPROT };
    return { neighs: [], fdbs: [], routes: [route], ...this.routes6Of(l) };
  }

  /** A dual-stack peer's IPv6 route: via the v6 TUN, or via its PublicIPv6 on our L2 (DirectRouting). */
  private routes6Of(l: Lease): { routes6?: RouteSpec6[] } {
    if (!this.dual) return {};
    const sn6 = l.ipv6Subnet;
    const pub6 = l.attrs.publicIpv6;
    if (!sn6 || pub6 === undefined || !parseVtep(l.attrs.backendV6Data)) return {};
    const { ip, prefixLen } = sn6;
    // A TUN route has no scope in RouteSpec6: IPv6 routes are universe-scoped; `dev` is enough.
    const route: RouteSpec6 = this.isDirect6(pub6)
      ? { dst: ip, dstLen: prefixLen, gateway: pub6, protocol: OVERLAYD_RTPROT }
      : { dst: ip, dstLen: prefixLen, oif: this.tunIndex6, protocol: OVERLAYD_RTPROT };
    return { routes6: [route] };
  }

  /** DirectRouting for IPv6: `ip -6 route get <PublicIPv6>` has no gateway. */
  private isDirect6(pub6: bigint): boolean {
    return this.onOurL2(this.direct6, pub6, () => parseRoute6(this.nl.get('route get v6', getRoute6(pub6))));
  }

  /** DirectRouting: `ip route get <PublicIP>` has no gateway, the peer shares our L2. */
  private isDirect(publicIp: number): boolean {
    return this.onOurL2(this.direct, publicIp, () =>
      parseRoute(this.nl.get('route get', getRoute(publicIp))),
    );
  }

  /** Either family's DirectRouting answer, asked of the kernel once per address (a failed ask: not direct). */
  private onOurL2<A>(
    cache: Map<A, boolean>,
    addr: A,
    routeGet: () => { gateway?: unknown } | undefined,
  ): boolean {
    if (!this.cfg.directRouting) return false;
    let d = cache.get(addr);
    if (d === undefined) {
      try {
        d = routeGet()?.gateway === undefined;
      } catch {
        d = false;
      }
      cache.set(addr, d);
    }
    return d;
  }

  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    await this.engine!.applyPeerEvents(events);
    await this.engine6?.applyPeerEvents(events);
    this.programmer.apply(events);
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    await this.engine!.reconcile(all);
    await this.engine6?.reconcile(all);
    this.programmer.reset(all);
  }

  async close(): Promise<void> {
    this.periodic.stop();
    try {
      await this.engine?.close();
    } finally {
      await this.engine6?.close();
      this.nl.close();
    }
  }
}

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
import type { PeerEntry } from './peer-table.js';
import { UdpBackend } from './udp-backend.js';
import { macWords } from './wire/vxlan-wire.js';
import { VXLAN_OVERHEAD } from '../vxlan-config.js';
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

  constructor(
    private readonly ctx: BackendContext,
    private readonly cfg: VxlanConfig,
  ) {
    refuseKernelOnly(cfg);
    this.name = `flannel.${cfg.vni}`;
    this.port = cfg.port || LINUX_VXLAN_PORT;
    this.mtu = (cfg.mtu ?? ctx.extIface.mtu) - VXLAN_OVERHEAD;
    this.metrics = new KernelMetrics(ctx.metrics);
    this.programmer = new PeerProgrammer({
      sync: new KernelSync(this.nl, this.metrics, ctx.log),
      metrics: this.metrics,
      log: ctx.log,
      entriesOf: (l) => this.routesOf(l),
      scope: () => ({ protocol: OVERLAYD_RTPROT }),
      addFailure: { message: 'cannot route to peer; the periodic reconcile will retry' },
    });
    this.periodic = new PeriodicReconciler(ctx.log, undefined, () => this.programmer.reconcile());
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
    this.engine = new UdpBackend(this.ctx, {
      tunName: this.name,
      port: this.port,
      mtu: this.mtu,
      wire: { kind: 'vxlan', vni: this.cfg.vni, vtepMac: [...mac] },
      entryOf: (l) => this.entryOf(l),
    });
    return { backendType: 'vxlan', backendData: { VNI: this.cfg.vni, VtepMAC: this.mac }, mtu: this.mtu };
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
    this.periodic.start();
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

  private routesOf(l: Lease): PeerEntries | string {
    if (l.attrs.backendType !== 'vxlan') return 'other_backend';
    if (!parseVtep(l.attrs.backendData)) return 'bad_backend_data';
    const { ip, prefixLen } = l.subnet;
    const route = this.isDirect(l.attrs.publicIp)
      ? { dst: ip, dstLen: prefixLen, gateway: l.attrs.publicIp, protocol: OVERLAYD_RTPROT }
      : { dst: ip, dstLen: prefixLen, oif: this.tunIndex, scope: RT_SCOPE_LINK, protocol: OVERLAYD_RTPROT };
    return { neighs: [], fdbs: [], routes: [route] };
  }

  /** DirectRouting: `ip route get <PublicIP>` has no gateway, the peer shares our L2. */
  private isDirect(publicIp: number): boolean {
    if (!this.cfg.directRouting) return false;
    let d = this.direct.get(publicIp);
    if (d === undefined) {
      try {
        d = parseRoute(this.nl.get('route get', getRoute(publicIp)))?.gateway === undefined;
      } catch {
        d = false;
      }
      this.direct.set(publicIp, d);
    }
    return d;
  }

  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    await this.engine!.applyPeerEvents(events);
    this.programmer.apply(events);
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    await this.engine!.reconcile(all);
    this.programmer.reset(all);
  }

  async close(): Promise<void> {
    this.periodic.stop();
    await this.engine?.close();
    this.nl.close();
  }
}

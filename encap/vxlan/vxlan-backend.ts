/**
 * vxlan backend, programming the kernel exactly as flanneld does so mixed clusters work.
 *
 * Device: flannel.<VNI>, kind vxlan, local = our public IP, underlay = the external interface,
 * dstport from Backend.Port (0 = kernel default 8472), nolearning unless Learning, no l2miss/l3miss,
 * MTU = base − 50, address <subnet>.0/32, a random locally administered MAC published as
 * BackendData {"VNI":n,"VtepMAC":…} and kept across restarts (peers' FDB entries point at it).
 *
 * Per peer (flannel's order; the route last so the kernel never ARPs for the gateway):
 *   neighbour  <peer subnet>.0 lladdr <peer VtepMAC> dev flannel.N permanent
 *   fdb        <peer VtepMAC> dst <peer PublicIP> dev flannel.N self permanent
 *   route      <peer subnet> via <peer subnet>.0 dev flannel.N onlink
 * With DirectRouting, a peer whose PublicIP is on our L2 (no gateway in `ip route get`) gets only
 *   route      <peer subnet> via <peer PublicIP>
 * Dual-stack (EnableIPv6) adds flannel-v6.<VNI> (the same VxlanDevice, vxlan-device.ts) and the
 * per-peer IPv6 entries;
 * FLANNEL_MTU is then the smaller overlay MTU of the two, the IPv6 device's.
 * Routes carry overlayd's route protocol, the one difference from flanneld's (which uses "boot"):
 * it lets a restart find and remove exactly our stale routes and nothing else.
 */
import { OverlaydError } from '../../core/errors.js';
import { parseIpv4, type Ipv4Net } from '../../core/ipv4.js';
import { parseIpv6, type Ipv6Net } from '../../core/ipv6.js';
import type { Lease } from '../../core/lease.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelBackend } from '../kernel/kernel-backend.js';
import type { PeerEntries, ReconcileScope } from '../kernel/kernel-sync.js';
import type { PeerEntries6 } from '../kernel/kernel-sync6.js';
import { OVERLAYD_RTPROT } from '../kernel/periodic.js';
import { findLink } from '../../sys/rtnetlink/link-ops.js';
import { parseVtep, parseVxlanConfig, type VxlanConfig } from '../vxlan-config.js';
import { VXLAN4, VXLAN6, VxlanDevice } from './vxlan-device.js';
import { VXLAN6_OVERHEAD } from '../vxlan-config.js';
import { refuseBelowIpv6MinMtu } from '../ipv6-min-mtu.js';

import { VXLAN_OVERHEAD } from '../vxlan-config.js';
export { VXLAN_OVERHEAD };

/** The kernel datapath; vxlan-datapath.ts chooses between it and userspace. */
export function createKernelVxlanBackend(ctx: BackendContext): Backend {
  return new VxlanBackend(ctx);
}

class VxlanBackend extends KernelBackend {
  readonly type = 'vxlan' as const;
  private readonly cfg: VxlanConfig;
  private v4: VxlanDevice<number, Ipv4Net> | undefined;
  private v6: VxlanDevice<bigint, Ipv6Net> | undefined;

  constructor(ctx: BackendContext) {
    super(ctx, { message: 'cannot program peer; the periodic reconcile will retry' });
    this.cfg = parseVxlanConfig(ctx.config.backend);
  }

  async register(): Promise<Registration> {
    const { config, extIface, log, previousLease } = this.ctx;
    const underlay = findLink(this.nl, extIface.name);
    if (!underlay) throw new OverlaydError('BACKEND', `external interface ${extIface.name} not found`);
    const baseMtu = this.cfg.mtu ?? extIface.mtu;
    // Before any device exists: a refused config leaves nothing behind.
    if (config.ipv6) refuseBelowIpv6MinMtu(`flannel-v6.${this.cfg.vni}`, baseMtu, VXLAN6_OVERHEAD);
    const v4 = new VxlanDevice(
      this.nl,
      VXLAN4,
      this.cfg,
      parseIpv4(extIface.publicIp)!,
      config.network,
      underlay.index,
      baseMtu,
      log,
    );
    this.v4 = v4;
    v4.ensure(parseVtep(previousLease?.attrs.backendData)?.mac);
    const backendData = { VNI: this.cfg.vni, VtepMAC: v4.mac };
    if (!config.ipv6) return { backendType: 'vxlan', backendData, mtu: v4.mtu };
    const v6 = new VxlanDevice(
      this.nl,
      VXLAN6,
      this.cfg,
      parseIpv6(extIface.publicIpv6!)!,
      config.ipv6.network,
      underlay.index,
      baseMtu,
      log,
    );
    this.v6 = v6;
    v6.ensure(parseVtep(previousLease?.attrs.backendV6Data)?.mac);
    return {
      backendType: 'vxlan',
      backendData,
      backendV6Data: { VNI: this.cfg.vni, VtepMAC: v6.mac },
      mtu: Math.min(v4.mtu, v6.mtu),
    };
  }

  protected programLocal(own: Lease): void {
    this.v4!.configure(own.subnet.ip);
    if (this.v6) {
      if (!own.ipv6Subnet)
        throw new OverlaydError('BACKEND', 'dual-stack vxlan: our lease has no IPv6 subnet');
      this.v6.configure(own.ipv6Subnet.ip);
    }
  }

  protected scope(): ReconcileScope {
    return {
      protocol: OVERLAYD_RTPROT,
      device: this.v4!.device!.index,
      ...(this.v6 ? { ipv6: true, device6: this.v6.device!.index } : {}),
    };
  }

  /** The entries one peer needs, or a reason it cannot be used. */
  protected entriesOf(peer: Lease): PeerEntries | string {
    if (peer.attrs.backendType !== 'vxlan') return 'other_backend';
    const vtep = parseVtep(peer.attrs.backendData);
    if (!vtep) return 'bad_backend_data';
    const { ip, prefixLen } = peer.subnet;
    const v6 = this.v6 ? this.entries6Of(this.v6, peer) : {};
    const v4 = this.v4!;
    if (this.cfg.directRouting && v4.isDirect(peer.attrs.publicIp)) {
      return {
        ...v6,
        neighs: [],
        fdbs: [],
        routes: [{ dst: ip, dstLen: prefixLen, gateway: peer.attrs.publicIp, protocol: OVERLAYD_RTPROT }],
      };
    }
    const dev = v4.device!.index;
    return {
      ...v6,
      neighs: [{ ifindex: dev, ip, mac: vtep.mac }],
      fdbs: [{ ifindex: dev, mac: vtep.mac, dst: peer.attrs.publicIp }],
      routes: [
        { dst: ip, dstLen: prefixLen, gateway: ip, oif: dev, onlink: true, protocol: OVERLAYD_RTPROT },
      ],
    };
  }

  /** A peer's IPv6 entries; none for a single-stack peer or one whose BackendV6Data is unusable. */
  private entries6Of(v6: VxlanDevice<bigint, Ipv6Net>, peer: Lease): PeerEntries6 {
    const sn6 = peer.ipv6Subnet;
    const pub6 = peer.attrs.publicIpv6;
    const vtep = parseVtep(peer.attrs.backendV6Data);
    if (!sn6 || pub6 === undefined || !vtep) return {};
    const { ip, prefixLen } = sn6;
    if (this.cfg.directRouting && v6.isDirect(pub6)) {
      return { routes6: [{ dst: ip, dstLen: prefixLen, gateway: pub6, protocol: OVERLAYD_RTPROT }] };
    }
    const dev = v6.device!.index;
    return {
      neighs6: [{ ifindex: dev, ip, mac: vtep.mac }],
      fdbs6: [{ ifindex: dev, mac: vtep.mac, dst: pub6 }],
      routes6: [
        { dst: ip, dstLen: prefixLen, gateway: ip, oif: dev, onlink: true, protocol: OVERLAYD_RTPROT },
      ],
    };
  }

  /** The device watch: recreate a device that vanished or changed, then re-program every peer. */
  protected checkDevice(): void {
    if (this.v6?.lost()) {
      this.ctx.log.warn({ device: this.v6.name }, 'IPv6 vxlan device missing or replaced; recreating it');
      this.v6.rebuild();
      this.programmer.reconcile();
    }
    const v4 = this.v4!;
    if (!v4.lost()) return;
    this.ctx.log.warn(
      { device: v4.name },
      'vxlan device missing or replaced; recreating it and re-programming peers',
    );
    v4.rebuild();
    this.programmer.reconcile();
  }
}

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
 * Dual-stack (EnableIPv6) adds flannel-v6.<VNI> and the per-peer IPv6 entries (vxlan6-device.ts);
 * FLANNEL_MTU is then the smaller overlay MTU of the two, the IPv6 device's.
 * Routes carry overlayd's route protocol, the one difference from flanneld's (which uses "boot"):
 * it lets a restart find and remove exactly our stale routes and nothing else.
 */
import { OverlaydError } from '../../core/errors.js';
import { parseIpv4, type Ipv4Net } from '../../core/ipv4.js';
import type { Lease } from '../../core/lease.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelBackend } from '../kernel/kernel-backend.js';
import type { PeerEntries, ReconcileScope } from '../kernel/kernel-sync.js';
import { OVERLAYD_RTPROT } from '../kernel/periodic.js';
import { parseMac } from '../../sys/rtnetlink/codec.js';
import { ensureOnlyAddress, findLink, setUp } from '../../sys/rtnetlink/link-ops.js';
import { refuseRouterAdvertisements } from '../../sys/sysctl.js';
import { addVxlanLink, deleteLink, getRoute, parseRoute, type Link } from '../../sys/rtnetlink/objects.js';
import { Vxlan6Device } from './vxlan6-device.js';
import {
  LINUX_VXLAN_PORT,
  parseVtep,
  parseVxlanConfig,
  randomVtepMac,
  type VxlanConfig,
} from '../vxlan-config.js';

import { VXLAN_OVERHEAD } from '../vxlan-config.js';
export { VXLAN_OVERHEAD };

/** The kernel datapath; vxlan-datapath.ts chooses between it and userspace. */
export function createKernelVxlanBackend(ctx: BackendContext): Backend {
  return new VxlanBackend(ctx);
}

class VxlanBackend extends KernelBackend {
  readonly type = 'vxlan' as const;
  private readonly cfg: VxlanConfig;
  private readonly name: string;
  private mac = '';
  private device: Link | undefined;
  private own: Ipv4Net | undefined;
  private underlayIndex = 0;
  private v6: Vxlan6Device | undefined;

  constructor(ctx: BackendContext) {
    super(ctx, { message: 'cannot program peer; the periodic reconcile will retry' });
    this.cfg = parseVxlanConfig(ctx.config.backend);
    this.name = `flannel.${this.cfg.vni}`;
  }

  private get mtu(): number {
    return (this.cfg.mtu ?? this.ctx.extIface.mtu) - VXLAN_OVERHEAD;
  }

  async register(): Promise<Registration> {
    const underlay = findLink(this.nl, this.ctx.extIface.name);
    if (!underlay)
      throw new OverlaydError('BACKEND', `external interface ${this.ctx.extIface.name} not found`);
    this.underlayIndex = underlay.index;
    const prev = parseVtep(this.ctx.previousLease?.attrs.backendData);
    this.ensureDevice(prev?.mac);
    const backendData = { VNI: this.cfg.vni, VtepMAC: this.mac };
    const { config, extIface } = this.ctx;
    if (!config.ipv6) return { backendType: 'vxlan', backendData, mtu: this.mtu };
    this.v6 = new Vxlan6Device(
      this.nl,
      this.cfg,
      extIface.publicIpv6!,
      config.ipv6.network,
      this.underlayIndex,
      this.cfg.mtu ?? extIface.mtu,
      this.ctx.log,
    );
    this.v6.ensure(parseVtep(this.ctx.previousLease?.attrs.backendV6Data)?.mac);
    return {
      backendType: 'vxlan',
      backendData,
      backendV6Data: { VNI: this.cfg.vni, VtepMAC: this.v6.mac },
      mtu: Math.min(this.mtu, this.v6.mtu),
    };
  }

  /** Keeps a compatible existing device (and its MAC); recreates an incompatible or missing one. */
  private ensureDevice(preferredMac?: string): void {
    const local = parseIpv4(this.ctx.extIface.publicIp)!;
    const want = {
      vni: this.cfg.vni,
      local,
      link: this.underlayIndex,
      port: this.cfg.port || LINUX_VXLAN_PORT,
      learning: this.cfg.learning,
      gbp: this.cfg.gbp,
    };
    const existing = findLink(this.nl, this.name);
    if (existing) {
      const v = existing.vxlan;
      const compatible =
        existing.kind === 'vxlan' &&
        v &&
        v.vni === want.vni &&
        v.local === want.local &&
        v.link === want.link &&
        (v.group ?? 0) === 0 &&
        !v.l2miss &&
        v.port === want.port &&
        !!v.gbp === want.gbp;
      if (compatible && existing.mac) {
        this.device = existing;
        this.mac = existing.mac;
        if (existing.mtu !== this.mtu) setUp(this.nl, existing.index, this.mtu);
        return;
      }
      this.ctx.log.warn(
        { device: this.name, found: existing.vxlan },
        'existing vxlan device is incompatible with the config; recreating it',
      );
      preferredMac ??= existing.mac;
      this.nl.request(`delete ${this.name}`, deleteLink(existing.index));
    }
    this.mac = preferredMac || this.mac || randomVtepMac();
    this.nl.request(`create ${this.name}`, addVxlanLink(this.name, parseMac(this.mac)!, this.mtu, want));
    const created = findLink(this.nl, this.name);
    if (!created) throw new OverlaydError('BACKEND', `${this.name} was created but cannot be found`);
    this.device = created;
    void refuseRouterAdvertisements(this.name);
    this.ctx.log.info(
      { device: this.name, vni: this.cfg.vni, mac: this.mac, mtu: this.mtu, port: want.port },
      'vxlan device created',
    );
  }

  protected programLocal(own: Lease): void {
    this.own = own.subnet;
    this.configureDevice();
    if (this.v6) {
      if (!own.ipv6Subnet)
        throw new OverlaydError('BACKEND', 'dual-stack vxlan: our lease has no IPv6 subnet');
      this.v6.configure(own.ipv6Subnet);
    }
  }

  protected scope(): ReconcileScope {
    return {
      protocol: OVERLAYD_RTPROT,
      device: this.device!.index,
      ...(this.v6 ? { ipv6: true, device6: this.v6.device!.index } : {}),
    };
  }

  private configureDevice(): void {
    const dev = this.device!;
    ensureOnlyAddress(this.nl, dev.index, this.own!.ip, 32, this.ctx.config.network);
    setUp(this.nl, dev.index, this.mtu);
  }

  /** The entries one peer needs, or a reason it cannot be used. */
  protected entriesOf(peer: Lease): PeerEntries | string {
    if (peer.attrs.backendType !== 'vxlan') return 'other_backend';
    const vtep = parseVtep(peer.attrs.backendData);
    if (!vtep) return 'bad_backend_data';
    const { ip, prefixLen } = peer.subnet;
    const v6 = this.v6 ? this.v6.entriesOf(peer) : {};
    if (this.cfg.directRouting && this.isDirect(peer.attrs.publicIp)) {
      return {
        ...v6,
        neighs: [],
        fdbs: [],
        routes: [{ dst: ip, dstLen: prefixLen, gateway: peer.attrs.publicIp, protocol: OVERLAYD_RTPROT }],
      };
    }
    const dev = this.device!.index;
    return {
      ...v6,
      neighs: [{ ifindex: dev, ip, mac: vtep.mac }],
      fdbs: [{ ifindex: dev, mac: vtep.mac, dst: peer.attrs.publicIp }],
      routes: [
        { dst: ip, dstLen: prefixLen, gateway: ip, oif: dev, onlink: true, protocol: OVERLAYD_RTPROT },
      ],
    };
  }

  /** `ip route get <PublicIP>` has no gateway: the peer shares our L2. */
  private isDirect(publicIp: number): boolean {
    try {
      return parseRoute(this.nl.get('route get', getRoute(publicIp)))?.gateway === undefined;
    } catch {
      return false;
    }
  }

  /** The device watch: recreate flannel.N if it vanished or changed, then re-program every peer. */
  protected checkDevice(): void {
    if (this.v6?.lost()) {
      this.ctx.log.warn({ device: this.v6.name }, 'IPv6 vxlan device missing or replaced; recreating it');
      this.v6.rebuild();
      this.programmer.reconcile();
    }
    const link = findLink(this.nl, this.name);
    if (link && link.index === this.device?.index) return;
    this.ctx.log.warn(
      { device: this.name },
      'vxlan device missing or replaced; recreating it and re-programming peers',
    );
    this.ensureDevice(this.mac);
    if (this.own) this.configureDevice();
    this.programmer.reconcile();
  }
}

/**
 * The IPv6 side of dual-stack vxlan, as flannel builds it: a second device flannel-v6.<VNI> whose
 * underlay is IPv6 (local = our PublicIPv6, same VNI and port as flannel.<VNI>), address = our
 * IPv6 subnet's network address as a /128, MAC published as BackendV6Data {"VNI":n,"VtepMAC":…}
 * and kept across restarts. Per peer with an IPv6 subnet and PublicIPv6:
 *   neighbour  <peer v6 subnet address> lladdr <peer v6 VtepMAC> dev flannel-v6.N permanent
 *   fdb        <peer v6 VtepMAC> dst <peer PublicIPv6> dev flannel-v6.N self permanent
 *   route      <peer v6 subnet> via <peer v6 subnet address> dev flannel-v6.N onlink
 * or, with DirectRouting and the peer's PublicIPv6 on our L2, route <peer v6 subnet> via <PublicIPv6>.
 *
 * MTU: VXLAN over IPv6 costs 70 bytes (outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14);
 * flannel subtracts 50 here too (its issue #1781), which drops full-size packets. We subtract 70.
 */
import { OverlaydError } from '../../core/errors.js';
import { containsIp6, parseIpv6, type Ipv6Net } from '../../core/ipv6.js';
import type { Lease } from '../../core/lease.js';
import type { Logger } from 'pino';
import { parseMac } from '../../sys/rtnetlink/codec.js';
import { EEXIST } from '../../sys/rtnetlink/errno.js';
import { findLink, setUp } from '../../sys/rtnetlink/link-ops.js';
import type { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { deleteLink, type Link } from '../../sys/rtnetlink/objects.js';
import {
  addAddr6,
  addVxlanLink6,
  deleteAddr6,
  dumpAddrs6,
  getRoute6,
  parseAddr6,
  parseRoute6,
} from '../../sys/rtnetlink/objects6.js';
import { refuseRouterAdvertisements } from '../../sys/sysctl.js';
import type { PeerEntries6 } from '../kernel/kernel-sync6.js';
import { OVERLAYD_RTPROT } from '../kernel/periodic.js';
import { LINUX_VXLAN_PORT, parseVtep, randomVtepMac, type VxlanConfig } from '../vxlan-config.js';

/** Outer IPv6 (40) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN6_OVERHEAD = 70;

export class Vxlan6Device {
  readonly name: string;
  mac = '';
  device: Link | undefined;
  private own: Ipv6Net | undefined;

  constructor(
    private readonly nl: RtNetlink,
    private readonly cfg: VxlanConfig,
    private readonly publicIpv6: string,
    private readonly ipv6Network: Ipv6Net,
    private readonly underlayIndex: number,
    private readonly baseMtu: number,
    private readonly log: Logger,
  ) {
    this.name = `flannel-v6.${cfg.vni}`;
  }

  get mtu(): number {
    return this.baseMtu - VXLAN6_OVERHEAD;
  }

  /** Keeps a compatible device (and its MAC); recreates an incompatible or missing one. */
  ensure(preferredMac?: string): void {
    const want = {
      vni: this.cfg.vni,
      local6: parseIpv6(this.publicIpv6)!,
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
        v.local6 === want.local6 &&
        v.link === want.link &&
        v.port === want.port &&
        !v.l2miss &&
        !!v.gbp === want.gbp;
      if (compatible && existing.mac) {
        this.device = existing;
        this.mac = existing.mac;
        if (existing.mtu !== this.mtu) setUp(this.nl, existing.index, this.mtu);
        return;
      }
      this.log.warn(
        { device: this.name },
        'existing IPv6 vxlan device is incompatible with the config; recreating it',
      );
      preferredMac ??= existing.mac;
      this.nl.request(`delete ${this.name}`, deleteLink(existing.index));
    }
    this.mac = preferredMac || this.mac || randomVtepMac();
    this.nl.request(`create ${this.name}`, addVxlanLink6(this.name, parseMac(this.mac)!, this.mtu, want));
    const created = findLink(this.nl, this.name);
    if (!created) throw new OverlaydError('BACKEND', `${this.name} was created but cannot be found`);
    this.device = created;
    void refuseRouterAdvertisements(this.name);
    this.log.info(
      { device: this.name, vni: want.vni, mac: this.mac, mtu: this.mtu },
      'IPv6 vxlan device created',
    );
  }

  /** Our lease's IPv6 subnet address as the only /128 inside IPv6Network (flannel's addressing), link up. */
  configure(own?: Ipv6Net): void {
    if (own) this.own = own;
    const dev = this.device!;
    const ip = this.own!.ip;
    for (const m of this.nl.dump('dump v6 addresses', dumpAddrs6())) {
      const a = parseAddr6(m);
      if (!a || a.index !== dev.index || (a.local === ip && a.prefixLen === 128)) continue;
      if (containsIp6(this.ipv6Network, a.local))
        this.nl.request('delete stale v6 address', deleteAddr6(dev.index, a.local, a.prefixLen));
    }
    this.nl.request('add v6 address', addAddr6(dev.index, ip, 128), [EEXIST]);
    setUp(this.nl, dev.index, this.mtu);
  }

  /** True when the device vanished or was replaced (the device watch then rebuilds it). */
  lost(): boolean {
    const link = findLink(this.nl, this.name);
    return !link || link.index !== this.device?.index;
  }

  rebuild(): void {
    this.ensure(this.mac);
    if (this.own) this.configure();
  }

  /** A peer's IPv6 entries; none for a single-stack peer or one whose BackendV6Data is unusable. */
  entriesOf(peer: Lease): PeerEntries6 {
    const sn6 = peer.ipv6Subnet;
    const pub6 = peer.attrs.publicIpv6;
    const vtep = parseVtep(peer.attrs.backendV6Data);
    if (!sn6 || pub6 === undefined || !vtep) return {};
    const { ip, prefixLen } = sn6;
    if (this.cfg.directRouting && this.isDirect(pub6)) {
      return { routes6: [{ dst: ip, dstLen: prefixLen, gateway: pub6, protocol: OVERLAYD_RTPROT }] };
    }
    const dev = this.device!.index;
    return {
      neighs6: [{ ifindex: dev, ip, mac: vtep.mac }],
      fdbs6: [{ ifindex: dev, mac: vtep.mac, dst: pub6 }],
      routes6: [
        { dst: ip, dstLen: prefixLen, gateway: ip, oif: dev, onlink: true, protocol: OVERLAYD_RTPROT },
      ],
    };
  }

  /** `ip -6 route get <PublicIPv6>` has no gateway: the peer shares our L2. */
  private isDirect(pub6: bigint): boolean {
    try {
      return parseRoute6(this.nl.get('route get v6', getRoute6(pub6)))?.gateway === undefined;
    } catch {
      return false;
    }
  }
}

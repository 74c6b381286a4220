/**
 * One vxlan device, for either underlay family, kept as flannel keeps it: flannel.<VNI> over IPv4
 * (local = our PublicIP, address = our subnet's network address as a /32) and, for dual-stack,
 * flannel-v6.<VNI> over IPv6 (local = our PublicIPv6, address = our IPv6 subnet's address as a
 * /128), same VNI and port. A compatible existing device is kept with its MAC (peers' FDB entries
 * point at it); an incompatible or missing one is recreated; the address is the only one inside
 * the overlay network. VXLAN4 and VXLAN6 say what differs between the two.
 *
 * MTU: VXLAN over IPv6 costs 70 bytes (outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14);
 * flannel subtracts 50 there too (its issue #1781), which drops full-size packets. We subtract 70.
 */
import type { Logger } from 'pino';
import { OverlaydError } from '../../core/errors.js';
import type { Ipv4Net } from '../../core/ipv4.js';
import { containsIp6, type Ipv6Net } from '../../core/ipv6.js';
import { parseMac, type Request } from '../../sys/rtnetlink/codec.js';
import { EEXIST } from '../../sys/rtnetlink/errno.js';
import { ensureOnlyAddress, findLink, setUp } from '../../sys/rtnetlink/link-ops.js';
import type { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import {
  addVxlanLink,
  deleteLink,
  getRoute,
  parseRoute,
  type Link,
  type VxlanInfo,
} from '../../sys/rtnetlink/objects.js';
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
import {
  LINUX_VXLAN_PORT,
  randomVtepMac,
  VXLAN6_OVERHEAD,
  VXLAN_OVERHEAD,
  type VxlanConfig,
} from '../vxlan-config.js';

/** The device's vxlan parameters as created; `local` is the family's underlay address. */
export interface VxlanWant<A> {
  readonly vni: number;
  readonly local: A;
  readonly link: number;
  readonly port: number;
  readonly learning: boolean;
  readonly gbp: boolean;
}

/** What one underlay family changes in the device and its programming. */
export interface VxlanDeviceFamily<A extends number | bigint, N> {
  /** The device name's prefix before the VNI. */
  readonly prefix: string;
  /** What log lines call the device. */
  readonly label: string;
  readonly overhead: number;
  /** The device address's prefix length (a host address). */
  readonly hostLen: number;
  /** The local address an existing device reports, to compare with ours. */
  localOf(v: VxlanInfo): A | undefined;
  create(name: string, mac: Uint8Array, mtu: number, want: VxlanWant<A>): Request;
  /** Puts ip/hostLen on the device and removes its other addresses inside `network`. */
  ensureOnlyAddress(nl: RtNetlink, index: number, ip: A, network: N): void;
  /** `ip route get <ip>` has no gateway: the address shares our L2. Throws when the kernel refuses. */
  onLink(nl: RtNetlink, ip: A): boolean;
}

export const VXLAN4: VxlanDeviceFamily<number, Ipv4Net> = {
  prefix: 'flannel.',
  label: 'vxlan',
  overhead: VXLAN_OVERHEAD,
  hostLen: 32,
  localOf: (v) => v.local,
  create: (name, mac, mtu, w) => addVxlanLink(name, mac, mtu, w),
  ensureOnlyAddress: (nl, index, ip, network) => ensureOnlyAddress(nl, index, ip, 32, network),
  onLink: (nl, ip) => parseRoute(nl.get('route get', getRoute(ip)))?.gateway === undefined,
};

export const VXLAN6: VxlanDeviceFamily<bigint, Ipv6Net> = {
  prefix: 'flannel-v6.',
  label: 'IPv6 vxlan',
  overhead: VXLAN6_OVERHEAD,
  hostLen: 128,
  localOf: (v) => v.local6,
  create: (name, mac, mtu, w) => addVxlanLink6(name, mac, mtu, { ...w, local6: w.local }),
  ensureOnlyAddress: (nl, index, ip, network) => {
    for (const m of nl.dump('dump v6 addresses', dumpAddrs6())) {
      const a = parseAddr6(m);
      if (!a || a.index !== index || (a.local === ip && a.prefixLen === 128)) continue;
      if (containsIp6(network, a.local))
        nl.request('delete stale v6 address', deleteAddr6(index, a.local, a.prefixLen));
    }
    nl.request('add v6 address', addAddr6(index, ip, 128), [EEXIST]);
  },
  onLink: (nl, ip) => parseRoute6(nl.get('route get v6', getRoute6(ip)))?.gateway === undefined,
};

export class VxlanDevice<A extends number | bigint, N> {
  readonly name: string;
  mac = '';
  device: Link | undefined;
  /** Our subnet's address on the device, once configured. */
  private own: A | undefined;

  constructor(
    private readonly nl: RtNetlink,
    private readonly family: VxlanDeviceFamily<A, N>,
    private readonly cfg: VxlanConfig,
    private readonly local: A,
    /** The overlay network: the device's other addresses inside it are stale. */
    private readonly network: N,
    private readonly underlayIndex: number,
    private readonly baseMtu: number,
    private readonly log: Logger,
  ) {
    this.name = `${family.prefix}${cfg.vni}`;
  }

  get mtu(): number {
    return this.baseMtu - this.family.overhead;
  }

  /** Keeps a compatible existing device (and its MAC); recreates an incompatible or missing one. */
  ensure(preferredMac?: string): void {
    const want: VxlanWant<A> = {
      vni: this.cfg.vni,
      local: this.local,
      link: this.underlayIndex,
      port: this.cfg.port || LINUX_VXLAN_PORT,
      learning: this.cfg.learning,
      gbp: this.cfg.gbp,
    };
    const label = this.family.label;
    const existing = findLink(this.nl, this.name);
    if (existing) {
      const v = existing.vxlan;
      const compatible =
        existing.kind === 'vxlan' &&
        v &&
        v.vni === want.vni &&
        this.family.localOf(v) === want.local &&
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
      this.log.warn(
        { device: this.name, found: existing.vxlan },
        `existing ${label} device is incompatible with the config; recreating it`,
      );
      preferredMac ??= existing.mac;
      this.nl.request(`delete ${this.name}`, deleteLink(existing.index));
    }
    this.mac = preferredMac || this.mac || randomVtepMac();
    this.nl.request(
      `create ${this.name}`,
      this.family.create(this.name, parseMac(this.mac)!, this.mtu, want),
    );
    const created = findLink(this.nl, this.name);
    if (!created) throw new OverlaydError('BACKEND', `${this.name} was created but cannot be found`);
    this.device = created;
    void refuseRouterAdvertisements(this.name);
    this.log.info(
      { device: this.name, vni: want.vni, mac: this.mac, mtu: this.mtu, port: want.port },
      `${label} device created`,
    );
  }

  /** Our subnet's address as the only host address inside the network (flannel's addressing), link up. */
  configure(own?: A): void {
    if (own !== undefined) this.own = own;
    const dev = this.device!;
    this.family.ensureOnlyAddress(this.nl, dev.index, this.own!, this.network);
    setUp(this.nl, dev.index, this.mtu);
  }

  /** True when the device vanished or was replaced (the device watch then rebuilds it). */
  lost(): boolean {
    const link = findLink(this.nl, this.name);
    return !link || link.index !== this.device?.index;
  }

  /** Recreates the device with its MAC and, once configured, its address. */
  rebuild(): void {
    this.ensure(this.mac);
    if (this.own !== undefined) this.configure();
  }

  /** Whether a peer's public address shares our L2 (DirectRouting); false when the kernel cannot say. */
  isDirect(publicIp: A): boolean {
    try {
      return this.family.onLink(this.nl, publicIp);
    } catch {
      return false;
    }
  }
}

/**
 * What the facts imply before any verdict: which lease is ours, who the peers are, which device
 * carries the overlay and what MTU it should have. Pure; shared by every evaluator.
 */
import { LINUX_VXLAN_PORT, parseVtep, parseVxlanConfig } from '../encap/vxlan-config.js';
import { DEFAULT_UDP_PORT } from '../encap/udp/udp-config.js';
import { formatCidr, parseCidr, sameNet, type Ipv4Net } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import type { BackendType } from '../core/network.js';
import type { Facts, KernelLink } from './facts.js';

/**
 * Encapsulation overheads as the backends subtract them (encap/vxlan/vxlan-backend.ts VXLAN_OVERHEAD,
 * encap/udp/udp-backend.ts UDP_OVERHEAD); repeated here so this pure module does not load the
 * backends and their native addon. ops/context.test.ts pins them to the backends' values.
 */
export const VXLAN_ENCAP_OVERHEAD = 50;
export const UDP_ENCAP_OVERHEAD = 28;

export interface Context {
  readonly backend?: BackendType;
  /** The overlay device: flannel.<VNI>, the TUN, or (host-gw) the external interface. */
  readonly deviceName?: string;
  readonly device?: KernelLink;
  readonly underlay?: KernelLink;
  readonly own?: Lease;
  /** The subnet subnet.env names (FLANNEL_SUBNET's network). */
  readonly envSubnet?: Ipv4Net;
  readonly peers: readonly Lease[];
  /** MTU the overlay device and FLANNEL_MTU should have, from the underlay as the daemon computes it. */
  readonly expectedMtu?: number;
  /** UDP port the encapsulation uses (vxlan 8472 or Backend.Port; udp 8285 or Backend.Port). */
  readonly udpPort?: number;
  readonly vxlan?: { vni: number; port: number; directRouting: boolean };
}

/** FLANNEL_SUBNET is written as the first address (10.244.3.1/24); its network is the lease subnet. */
export function envSubnetOf(env: Readonly<Record<string, string>> | undefined): Ipv4Net | undefined {
  const s = env?.['FLANNEL_SUBNET'];
  return s === undefined ? undefined : parseCidr(s);
}

const netOf = (n: Ipv4Net): Ipv4Net => {
  const mask = n.prefixLen === 0 ? 0 : (0xffffffff << (32 - n.prefixLen)) >>> 0;
  return { ip: (n.ip & mask) >>> 0, prefixLen: n.prefixLen };
};

export function buildContext(f: Facts): Context {
  const cfg = f.cluster.config;
  const env = envSubnetOf(f.local.subnetEnv);
  const envSubnet = env ? netOf(env) : undefined;
  const publicIp = f.local.iface?.publicIp;
  const mine = f.cluster.leases.filter((l) => l.attrs.publicIp === publicIp);
  // Two leases with our address (a duplicate): the one subnet.env names is the one in use.
  const own = mine.find((l) => envSubnet && sameNet(l.subnet, envSubnet)) ?? mine[0];
  const link = (name: string | undefined): KernelLink | undefined =>
    name === undefined ? undefined : f.kernel.links.find((l) => l.name === name);
  const underlay = link(f.local.iface?.name);
  const peers = f.cluster.leases.filter(
    (l) => l.attrs.publicIp !== publicIp && !(own && sameNet(l.subnet, own.subnet)),
  );
  const base: { -readonly [K in keyof Context]: Context[K] } = { peers, underlay };
  if (own) base.own = own;
  if (envSubnet) base.envSubnet = envSubnet;
  if (!cfg) return base;
  base.backend = cfg.backendType;
  const underMtu = underlay?.mtu ?? f.local.iface?.mtu;
  switch (cfg.backendType) {
    case 'vxlan': {
      let v;
      try {
        v = parseVxlanConfig(cfg.backend);
      } catch {
        return base;
      }
      base.vxlan = { vni: v.vni, port: v.port || LINUX_VXLAN_PORT, directRouting: v.directRouting };
      base.udpPort = v.port || LINUX_VXLAN_PORT;
      base.deviceName = `flannel.${v.vni}`;
      const b = v.mtu ?? underMtu;
      if (b !== undefined) base.expectedMtu = b - VXLAN_ENCAP_OVERHEAD;
      base.peers = peers.filter((p) => p.attrs.backendType === 'vxlan' && parseVtep(p.attrs.backendData));
      break;
    }
    case 'udp': {
      const port = cfg.backend['port'];
      base.udpPort = typeof port === 'number' ? port : DEFAULT_UDP_PORT;
      base.deviceName = f.expect.tunName;
      if (underMtu !== undefined) base.expectedMtu = underMtu - UDP_ENCAP_OVERHEAD;
      base.peers = peers.filter((p) => p.attrs.backendType === undefined || p.attrs.backendType === 'udp');
      break;
    }
    case 'host-gw':
      if (f.local.iface) base.deviceName = f.local.iface.name;
      if (underMtu !== undefined) base.expectedMtu = underMtu;
      base.peers = peers.filter((p) => p.attrs.backendType === 'host-gw');
      break;
    case 'alloc':
      if (underMtu !== undefined) base.expectedMtu = underMtu;
      break;
  }
  base.device = link(base.deviceName);
  return base;
}

/** "10.244.2.0/24" for messages. */
export const cidr = formatCidr;

/** The sysctl path segment of a device name: dots become slashes (net.ipv4.conf.flannel/1.rp_filter). */
export const sysctlDev = (name: string): string => name.replace(/\./g, '/');

/**
 * The one name of a subnet: flannel's etcd key tail, "10.244.3.0-24". Every map keyed by subnet
 * (the peer set, the programmed kernel peers, the udp peer table's source) uses it, so a lease is
 * found by the same string wherever it travels. A dual-stack lease's etcd key extends the same
 * string with its IPv6 subnet ("10.244.3.0-24&fd00:10:244:3::-64", flannel's MakeSubnetKey): in
 * etcd mode every lease has an IPv4 subnet and no two leases share one, so the IPv4 part alone
 * stays the map key and leaseKeyOf gives the full etcd key.
 */
import { formatIpv4, parseIpv4, type Ipv4Net } from './ipv4.js';
import { formatIpv6, parseIpv6, type Ipv6Net } from './ipv6.js';

/** flannel's key regex (pkg/subnet/subnet.go), kept as is, including the missing start anchor. */
const FLANNEL_KEY = /(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

/** The subnets one lease holds: always IPv4 in etcd mode, IPv6 beside it when dual-stack. */
export interface LeaseSubnets {
  readonly subnet: Ipv4Net;
  readonly ipv6Subnet?: Ipv6Net;
}

export function subnetKeyOf(subnet: Ipv4Net): string {
  return `${formatIpv4(subnet.ip)}-${subnet.prefixLen}`;
}

/** The etcd key tail of a lease: the IPv4 part, then "&<v6>-<len>" in Go's IPv6 text when dual-stack. */
export function leaseKeyOf(s: LeaseSubnets): string {
  const v4 = subnetKeyOf(s.subnet);
  return s.ipv6Subnet ? `${v4}&${formatIpv6(s.ipv6Subnet.ip)}-${s.ipv6Subnet.prefixLen}` : v4;
}

export type ParsedLeaseKey = { ok: true; subnets: LeaseSubnets } | { ok: false; reason: string };

/** Parses the tail of a subnets/ key as flannel's ParseSubnetKey does, saying why a key is refused. */
export function parseLeaseKey(key: string): ParsedLeaseKey {
  const m = FLANNEL_KEY.exec(key);
  if (!m) {
    // A key whose IPv4 part is fine but whose IPv6 part is not is worth naming as such.
    return key.includes('&')
      ? { ok: false, reason: 'IPv6 part of the key is not an IPv6 subnet (want a.b.c.d-len&v6addr-len)' }
      : { ok: false, reason: 'key does not name a subnet (want a.b.c.d-len)' };
  }
  const ip = parseIpv4(m[1]!);
  const prefixLen = Number(m[2]);
  if (ip === undefined || !Number.isInteger(prefixLen) || prefixLen > 32)
    return { ok: false, reason: 'key does not name a subnet (want a.b.c.d-len)' };
  // A key whose address has host bits set names no subnet; flannel would mis-route it, we skip it.
  if (prefixLen < 32 && (ip & (2 ** (32 - prefixLen) - 1)) !== 0)
    return { ok: false, reason: 'IPv4 part of the key has host bits set' };
  const subnet = { ip, prefixLen };
  if (m[3] === undefined) return { ok: true, subnets: { subnet } };
  const ip6 = parseIpv6(m[3]);
  const len6 = Number(m[4]);
  if (ip6 === undefined || !Number.isInteger(len6) || len6 > 128)
    return { ok: false, reason: `IPv6 part of the key is not an IPv6 subnet: "${m[3]}-${m[4]}"` };
  if (len6 < 128 && (ip6 & ((1n << BigInt(128 - len6)) - 1n)) !== 0n)
    return { ok: false, reason: 'IPv6 part of the key has host bits set' };
  return { ok: true, subnets: { subnet, ipv6Subnet: { ip: ip6, prefixLen: len6 } } };
}

/** The IPv4 subnet a subnets/ key names; undefined when flannel would not accept the key either. */
export function parseSubnetKey(key: string): Ipv4Net | undefined {
  const p = parseLeaseKey(key);
  return p.ok ? p.subnets.subnet : undefined;
}

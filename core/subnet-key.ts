/**
 * The one name of a subnet: flannel's etcd key tail, "10.244.3.0-24". Every map keyed by subnet
 * (the peer set, the programmed kernel peers, the udp peer table's source) uses it, so a lease is
 * found by the same string wherever it travels. flannel's dual-stack keys extend the same string
 * ("10.244.3.0-24&fd00:1::-64"), which is why it is this form and not CIDR text.
 */
import { formatIpv4, parseIpv4, type Ipv4Net } from './ipv4.js';

/** flannel's key regex (pkg/subnet/subnet.go), kept as is, including the missing start anchor. */
const FLANNEL_KEY = /(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

export function subnetKeyOf(subnet: Ipv4Net): string {
  return `${formatIpv4(subnet.ip)}-${subnet.prefixLen}`;
}

/** Parses the last path element of a subnets/ key; undefined when flannel would not accept it either. */
export function parseSubnetKey(key: string): Ipv4Net | undefined {
  const m = FLANNEL_KEY.exec(key);
  if (!m) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefixLen = Number(m[2]);
  if (ip === undefined || !Number.isInteger(prefixLen) || prefixLen > 32) return undefined;
  // A key whose address has host bits set names no subnet; flannel would mis-route it, we skip it.
  if (prefixLen < 32 && (ip & (2 ** (32 - prefixLen) - 1)) !== 0) return undefined;
  return { ip, prefixLen };
}

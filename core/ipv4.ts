/**
 * IPv4 addresses and CIDR subnets as unsigned 32-bit integers: the datapath's prefix table and the
 * allocator both work on integers, and strings only appear at the edges (etcd keys, JSON, logs).
 * IPV4 at the bottom is this file as an IpFamily (ip-prefix.ts), the shape IPv6 will share.
 */
import type { IpFamily, IpPrefix } from './ip-prefix.js';

/** Network address (host bits cleared, an unsigned 32-bit integer) and prefix length. */
export type Ipv4Net = IpPrefix<number>;

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses dotted-quad text; returns undefined for anything else (no leading zeros beyond "0"). */
export function parseIpv4(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (!m) return undefined;
  let ip = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith('0')) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    ip = ip * 256 + octet;
  }
  return ip;
}

export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** Netmask for a prefix length, as an unsigned integer (prefix 0 gives 0). */
export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/** Number of addresses in a prefix (2^(32-len)); a float so /0 does not overflow. */
export function sizeOf(prefixLen: number): number {
  return 2 ** (32 - prefixLen);
}

/**
 * Parses "a.b.c.d/len". With `strict`, host bits must be zero (etcd config must name networks);
 * otherwise they are cleared, as Go's net.ParseCIDR does for the network part.
 */
export function parseCidr(text: string, strict = false): Ipv4Net | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIpv4(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(lenText)) return undefined;
  const prefixLen = Number(lenText);
  if (prefixLen > 32) return undefined;
  const net = (ip & maskOf(prefixLen)) >>> 0;
  if (strict && net !== ip) return undefined;
  return { ip: net, prefixLen };
}

export function formatCidr(net: Ipv4Net): string {
  return `${formatIpv4(net.ip)}/${net.prefixLen}`;
}

export function containsIp(net: Ipv4Net, ip: number): boolean {
  return (ip & maskOf(net.prefixLen)) >>> 0 === net.ip;
}

/** True when one subnet contains the other's first address, i.e. the ranges intersect. */
export function overlaps(a: Ipv4Net, b: Ipv4Net): boolean {
  const len = Math.min(a.prefixLen, b.prefixLen);
  const m = maskOf(len);
  return (a.ip & m) >>> 0 === (b.ip & m) >>> 0;
}

export function sameNet(a: Ipv4Net, b: Ipv4Net): boolean {
  return a.ip === b.ip && a.prefixLen === b.prefixLen;
}

/** Last address of a subnet. */
export function lastIp(net: Ipv4Net): number {
  return (net.ip + sizeOf(net.prefixLen) - 1) >>> 0;
}

export const IPV4: IpFamily<number> = {
  bits: 32,
  parseAddr: parseIpv4,
  formatAddr: formatIpv4,
  parsePrefix: parseCidr,
  formatPrefix: formatCidr,
  contains: containsIp,
  overlaps,
  same: sameNet,
  lastAddr: lastIp,
};

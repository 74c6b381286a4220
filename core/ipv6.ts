/**
 * IPv6 addresses and prefixes as unsigned 128-bit bigints, the IpFamily beside ipv4.ts. Text is
 * parsed in any RFC 4291 form (flannel's configs and keys come from Go's net.ParseIP, which accepts
 * them all) and always written in RFC 5952 form, which is what Go's net.IP.String prints: lowercase,
 * no leading zeros, the longest run of two or more zero groups (the first on a tie) as "::". flannel
 * builds its dual-stack etcd keys from that text, so ours must match it byte for byte.
 */
import type { IpFamily, IpPrefix } from './ip-prefix.js';

export type Ipv6Net = IpPrefix<bigint>;

const ALL = (1n << 128n) - 1n;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED_TAIL = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The 16-bit groups of one side of "::"; a trailing dotted quad counts as two groups. */
function groupsOf(side: string): number[] | undefined {
  if (side === '') return [];
  const parts = side.split(':');
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    const dotted = i === parts.length - 1 ? DOTTED_TAIL.exec(p) : null;
    if (dotted) {
      const o = dotted.slice(1, 5).map(Number);
      if (o.some((x) => x > 255)) return undefined;
      out.push((o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!);
      continue;
    }
    if (!HEX_GROUP.test(p)) return undefined;
    out.push(parseInt(p, 16));
  }
  return out;
}

/** Parses IPv6 text (with "::" and an optional trailing dotted quad); undefined for anything else. */
export function parseIpv6(text: string): bigint | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const given = head.length + tail.length;
  if (halves.length === 2 ? given > 7 : given !== 8) return undefined;
  const groups = [...head, ...new Array<number>(8 - given).fill(0), ...tail];
  let ip = 0n;
  for (const g of groups) ip = (ip << 16n) | BigInt(g);
  return ip;
}

export function formatIpv6(ip: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups, at least two long; the first one wins a tie (RFC 5952 4.2.3).
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestAt < 0) return hex(groups);
  return `${hex(groups.slice(0, bestAt))}::${hex(groups.slice(bestAt + bestLen))}`;
}

export function maskOf6(prefixLen: number): bigint {
  return prefixLen === 0 ? 0n : (ALL << BigInt(128 - prefixLen)) & ALL;
}

/** Number of addresses in a prefix, 2^(128-len). */
export function sizeOf6(prefixLen: number): bigint {
  return 1n << BigInt(128 - prefixLen);
}

/** Parses "addr/len"; with `strict`, host bits must be zero, else they are cleared (Go's ParseCIDR). */
export function parseCidr6(text: string, strict = false): Ipv6Net | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIpv6(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefixLen = Number(lenText);
  if (prefixLen > 128) return undefined;
  const net = ip & maskOf6(prefixLen);
  if (strict && net !== ip) return undefined;
  return { ip: net, prefixLen };
}

export function formatCidr6(net: Ipv6Net): string {
  return `${formatIpv6(net.ip)}/${net.prefixLen}`;
}

export function containsIp6(net: Ipv6Net, ip: bigint): boolean {
  return (ip & maskOf6(net.prefixLen)) === net.ip;
}

export function overlaps6(a: Ipv6Net, b: Ipv6Net): boolean {
  const m = maskOf6(Math.min(a.prefixLen, b.prefixLen));
  return (a.ip & m) === (b.ip & m);
}

export function sameNet6(a: Ipv6Net, b: Ipv6Net): boolean {
  return a.ip === b.ip && a.prefixLen === b.prefixLen;
}

export function lastIp6(net: Ipv6Net): bigint {
  return net.ip + sizeOf6(net.prefixLen) - 1n;
}

export const IPV6: IpFamily<bigint> = {
  bits: 128,
  parseAddr: parseIpv6,
  formatAddr: formatIpv6,
  parsePrefix: parseCidr6,
  formatPrefix: formatCidr6,
  contains: containsIp6,
  overlaps: overlaps6,
  same: sameNet6,
  lastAddr: lastIp6,
};

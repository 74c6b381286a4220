/**
 * What differs between IPv4 and IPv6 in the rtnetlink objects overlayd programs: the address
 * family byte, how an address is written and read (4 bytes from a number, 16 from a bigint, both in
 * network order), a host prefix's length, and the default scope of a route. family-objects.ts
 * builds routes, neighbours, FDB entries and addresses once from these; objects.ts and
 * objects6.ts bind them to a family.
 */
import { bytesAttr, ipv4Attr, u32be, type Attr } from './codec.js';
import * as C from './constants.js';

export function ipv6Bytes(ip: bigint): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 15, v = ip; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}
export const ipv6Attr = (type: number, ip: bigint): Attr => bytesAttr(type, ipv6Bytes(ip));
export function ipv6At(b: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[off + i]!);
  return v;
}

export interface AddressFamily<A extends number | bigint> {
  /** AF_INET or AF_INET6: rtmsg, ndmsg and ifaddrmsg's first byte. */
  readonly af: number;
  /** An address attribute's payload length; one of another length is not this family's. */
  readonly bytes: number;
  /** A host route's prefix length (`ip route get`). */
  readonly hostLen: number;
  /** The address a dump entry without one reads as. */
  readonly none: A;
  attr(type: number, ip: A): Attr;
  at(b: Uint8Array, off: number): A;
  /** rtm_scope of a route we program. */
  routeScope(r: { readonly gateway?: A; readonly scope?: number }): number;
}

export const INET: AddressFamily<number> = {
  af: C.AF_INET,
  bytes: 4,
  hostLen: 32,
  none: 0,
  attr: ipv4Attr,
  at: u32be,
  // A route without a gateway is on-link (scope link), as `ip route` makes it; a caller may say otherwise.
  routeScope: (r) => r.scope ?? (r.gateway === undefined ? C.RT_SCOPE_LINK : C.RT_SCOPE_UNIVERSE),
};

export const INET6: AddressFamily<bigint> = {
  af: C.AF_INET6,
  bytes: 16,
  hostLen: 128,
  none: 0n,
  attr: ipv6Attr,
  at: ipv6At,
  // IPv6 routes are universe scope whether or not they have a gateway.
  routeScope: () => C.RT_SCOPE_UNIVERSE,
};

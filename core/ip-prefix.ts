/**
 * What an IP family's prefix math offers, so IPv6 can sit beside IPv4 behind one shape: ipv4.ts
 * implements it on unsigned 32-bit integers (the form the datapath's tables use); dual-stack adds
 * ipv6.ts on bigints. flannel keeps the two families in separate lease fields (PublicIP and
 * PublicIPv6, Subnet and IPv6Subnet), so code holds one family's values at a time and picks the
 * family's module, rather than branching on a tag per value.
 */

/** A network: its address with the host bits cleared, and the prefix length. */
export interface IpPrefix<A> {
  readonly ip: A;
  readonly prefixLen: number;
}

export interface IpFamily<A> {
  /** Address width: 32 or 128. */
  readonly bits: number;
  /** Canonical text (dotted quad, RFC 5952) to an address; undefined for anything else. */
  parseAddr(text: string): A | undefined;
  formatAddr(ip: A): string;
  /** "addr/len"; with `strict`, host bits must be zero, else they are cleared (Go's ParseCIDR). */
  parsePrefix(text: string, strict?: boolean): IpPrefix<A> | undefined;
  formatPrefix(net: IpPrefix<A>): string;
  contains(net: IpPrefix<A>, ip: A): boolean;
  /** True when the two ranges intersect. */
  overlaps(a: IpPrefix<A>, b: IpPrefix<A>): boolean;
  same(a: IpPrefix<A>, b: IpPrefix<A>): boolean;
  /** Last address of the range. */
  lastAddr(net: IpPrefix<A>): A;
}

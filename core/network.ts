/**
 * A network as overlayd runs it: the validated form of flannel's network config
 * (subnet-lease/network-config.ts parses and checks `<prefix>/config` into this).
 */
import type { Ipv4Net } from './ipv4.js';
import type { Ipv6Net } from './ipv6.js';

export const BACKEND_TYPES = ['udp', 'vxlan', 'host-gw', 'alloc', 'wireguard'] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

/**
 * The backends that carry IPv6 (EnableIPv6). flannel's udp backend is IPv4-only, and a flanneld
 * udp peer would misread inner IPv6, so udp stays IPv4-only here too.
 */
export const IPV6_BACKENDS: readonly BackendType[] = ['vxlan', 'host-gw', 'wireguard', 'alloc'];

/** The IPv6 side of a dual-stack network (EnableIPv6), with flannel's defaults applied. */
export interface Ipv6NetworkConfig {
  readonly network: Ipv6Net;
  readonly subnetLen: number;
  /** First and last IPv6 subnet network addresses the allocator may hand out. */
  readonly subnetMin: bigint;
  readonly subnetMax: bigint;
}

export interface NetworkConfig {
  readonly network: Ipv4Net;
  readonly subnetLen: number;
  /** First and last subnet network addresses the allocator may hand out. */
  readonly subnetMin: number;
  readonly subnetMax: number;
  /** Present when EnableIPv6 is true: every lease then holds an IPv6 subnet too. */
  readonly ipv6?: Ipv6NetworkConfig;
  readonly backendType: BackendType;
  /** The Backend object with lowercased keys, for the backend to read its own options. */
  readonly backend: Readonly<Record<string, unknown>>;
  readonly enableNFTables: boolean;
}

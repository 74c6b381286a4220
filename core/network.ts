/**
 * A network as overlayd runs it: the validated form of flannel's network config
 * (subnet-lease/network-config.ts parses and checks `<prefix>/config` into this).
 */
import type { Ipv4Net } from './ipv4.js';

export const BACKEND_TYPES = ['udp', 'vxlan', 'host-gw', 'alloc'] as const;
export type BackendType = (typeof BACKEND_TYPES)[number];

export interface NetworkConfig {
  readonly network: Ipv4Net;
  readonly subnetLen: number;
  /** First and last subnet network addresses the allocator may hand out. */
  readonly subnetMin: number;
  readonly subnetMax: number;
  readonly backendType: BackendType;
  /** The Backend object with lowercased keys, for the backend to read its own options. */
  readonly backend: Readonly<Record<string, unknown>>;
  readonly enableNFTables: boolean;
}

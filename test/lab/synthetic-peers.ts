/**
 * Synthetic vxlan peer leases for the convergence bench and the churn test: peer i has subnet
 * 10.(100 + i/256).(i%256).0/24, PublicIP 198.19.x.y and a distinct VtepMAC starting 02:aa. Only
 * etcd and the kernel tables see them: no traffic is ever sent to these addresses.
 */
const hex = (n: number): string => (n & 255).toString(16).padStart(2, '0');

export const SYNTHETIC_MAC_PREFIX = '02:aa';

/** Peer i's subnet, as `ip route` prints it (10.100.0.0/24). */
export const syntheticSubnet = (i: number): string => `10.${100 + (i >> 8)}.${i & 255}.0/24`;

/** Peer i's etcd key under `prefix`. */
export const syntheticKey = (prefix: string, i: number): string =>
  `${prefix}/subnets/${syntheticSubnet(i).replace('/', '-')}`;

/** Peer i's lease value, in flanneld's vxlan format. */
export const syntheticVxlanLease = (i: number): string =>
  `{"PublicIP":"198.19.${(i >> 8) & 255}.${i & 255}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${SYNTHETIC_MAC_PREFIX}:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}:01"}}`;

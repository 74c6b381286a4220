/**
 * A dual-stack node's own lease and IPv6 subnet, read back as the dual-stack e2e tests check them:
 * the lease under flanneld's key <subnet>&<IPv6 subnet>, found from the node's subnet.env.
 */
import { leases } from './kernel-state6.js';
import type { Lab } from './lab.js';
import type { LabNode } from './lab-node.js';

/** flanneld's dual-stack lease value; `D` is the backend's BackendData (and BackendV6Data). */
export interface DualLease<D> {
  PublicIP: string;
  PublicIPv6?: string | null;
  BackendType?: string;
  BackendData?: D;
  BackendV6Data?: D;
}

/** `node`'s lease in etcd, its backend data as `D`. */
export async function dualLeaseOf<D>(lab: Lab, node: LabNode): Promise<DualLease<D>> {
  const v4 = (await node.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/').replace('/', '-');
  for (const [key, v] of await leases(lab)) if (key.startsWith(`${v4}&`)) return v as DualLease<D>;
  throw new Error(`node ${node.index}: no dual-stack lease for ${v4}`);
}

/** `node`'s IPv6 subnet from its subnet.env, as `fd00:10:244:N::/64`. */
export const v6SubnetOf = async (node: LabNode): Promise<string> =>
  (await node.subnetEnv())['FLANNEL_IPV6_SUBNET']!.replace('::1/', '::/');

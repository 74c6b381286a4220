/**
 * A lease's value in flanneld's exact etcd encoding (the key is core/subnet-key.ts):
 *   key   <prefix>/subnets/10.244.3.0-24
 *   value {"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{...}}
 * and dual-stack (key 10.244.3.0-24&fd00:10:244:3::-64):
 *   value {"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan",
 *          "BackendData":{...},"BackendV6Data":{...}}
 * Go marshals flannel's LeaseAttrs in struct order; PublicIPv6 is a pointer without omitempty (so
 * null when absent), the backend fields are omitempty.
 */
import { OverlaydError } from '../core/errors.js';
import { lowerKeys } from './network-config.js';
import { formatIpv4, parseIpv4 } from '../core/ipv4.js';
import { formatIpv6, parseIpv6 } from '../core/ipv6.js';
import type { LeaseAttrs } from '../core/lease.js';

/** Encodes attrs the way Go's json.Marshal of flannel's LeaseAttrs does: same field order and nulls. */
export function encodeLeaseAttrs(attrs: LeaseAttrs): string {
  const out: Record<string, unknown> = {
    PublicIP: formatIpv4(attrs.publicIp),
    PublicIPv6: attrs.publicIpv6 === undefined ? null : formatIpv6(attrs.publicIpv6),
  };
  if (attrs.backendType) out['BackendType'] = attrs.backendType;
  if (attrs.backendData !== undefined && attrs.backendData !== null) out['BackendData'] = attrs.backendData;
  if (attrs.backendV6Data !== undefined && attrs.backendV6Data !== null)
    out['BackendV6Data'] = attrs.backendV6Data;
  return JSON.stringify(out);
}

/** Parses a lease value; throws OverlaydError('BAD_LEASE') saying what is wrong. */
export function parseLeaseAttrs(text: string): LeaseAttrs {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new OverlaydError('BAD_LEASE', `lease value is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new OverlaydError('BAD_LEASE', 'lease value is not a JSON object');
  }
  const obj = lowerKeys(raw as Record<string, unknown>);
  const publicIpText = obj['publicip'];
  const publicIp = typeof publicIpText === 'string' ? parseIpv4(publicIpText) : undefined;
  if (publicIp === undefined) {
    throw new OverlaydError(
      'BAD_LEASE',
      `lease PublicIP is not an IPv4 address: ${JSON.stringify(publicIpText)}`,
    );
  }
  const backendType = obj['backendtype'];
  if (backendType !== undefined && backendType !== null && typeof backendType !== 'string') {
    throw new OverlaydError('BAD_LEASE', `lease BackendType is not a string: ${JSON.stringify(backendType)}`);
  }
  const v6Text = obj['publicipv6'];
  let publicIpv6: bigint | undefined;
  if (v6Text !== undefined && v6Text !== null) {
    // Go's IP6.UnmarshalJSON fails the whole lease on a bad address; flannel then skips it, so do we.
    publicIpv6 = typeof v6Text === 'string' ? parseIpv6(v6Text) : undefined;
    if (publicIpv6 === undefined)
      throw new OverlaydError(
        'BAD_LEASE',
        `lease PublicIPv6 is not an IPv6 address: ${JSON.stringify(v6Text)}`,
      );
  }
  const attrs: {
    publicIp: number;
    publicIpv6?: bigint;
    backendType?: string;
    backendData?: unknown;
    backendV6Data?: unknown;
  } = { publicIp };
  if (publicIpv6 !== undefined) attrs.publicIpv6 = publicIpv6;
  if (typeof backendType === 'string' && backendType !== '') attrs.backendType = backendType;
  if (obj['backenddata'] !== undefined && obj['backenddata'] !== null) attrs.backendData = obj['backenddata'];
  if (obj['backendv6data'] !== undefined && obj['backendv6data'] !== null)
    attrs.backendV6Data = obj['backendv6data'];
  return attrs;
}

/**
 * A lease's value in flanneld's exact etcd encoding (the key is core/subnet-key.ts):
 *   key   <prefix>/subnets/10.244.3.0-24
 *   value {"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{...}}
 */
import { OverlaydError } from '../core/errors.js';
import { lowerKeys } from './network-config.js';
import { formatIpv4, parseIpv4 } from '../core/ipv4.js';
import type { LeaseAttrs } from '../core/lease.js';

/** Encodes attrs the way Go's json.Marshal of flannel's LeaseAttrs does: same field order and nulls. */
export function encodeLeaseAttrs(attrs: LeaseAttrs): string {
  const out: Record<string, unknown> = { PublicIP: formatIpv4(attrs.publicIp), PublicIPv6: null };
  if (attrs.backendType) out['BackendType'] = attrs.backendType;
  if (attrs.backendData !== undefined && attrs.backendData !== null) out['BackendData'] = attrs.backendData;
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
  const attrs: { publicIp: number; backendType?: string; backendData?: unknown } = { publicIp };
  if (typeof backendType === 'string' && backendType !== '') attrs.backendType = backendType;
  if (obj['backenddata'] !== undefined && obj['backenddata'] !== null) attrs.backendData = obj['backenddata'];
  return attrs;
}

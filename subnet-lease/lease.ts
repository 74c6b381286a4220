/**
 * A lease is the only contract between the control plane and the backends: a subnet, the node's
 * public IP, and what its backend published. Keys and values use flanneld's exact etcd encoding:
 *   key   <prefix>/subnets/10.244.3.0-24
 *   value {"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{...}}
 */
import { OverlaydError } from '../core/errors.js';
import { lowerKeys } from './network-config.js';
import { formatIpv4, parseIpv4, type Ipv4Net } from '../core/ipv4.js';

export interface LeaseAttrs {
  readonly publicIp: number;
  /** Absent for the udp backend, which flannel publishes without a BackendType. */
  readonly backendType?: string;
  /** Backend-specific JSON, e.g. {"VNI":1,"VtepMAC":"…"} for vxlan. */
  readonly backendData?: unknown;
}

export interface Lease {
  readonly subnet: Ipv4Net;
  readonly attrs: LeaseAttrs;
  /** When etcd will drop the key; undefined for reservations (keys without an etcd lease). */
  readonly expiration?: Date;
  /** The etcd lease the key is attached to (ours only). */
  readonly etcdLeaseId?: string;
}

/** flannel's key regex (pkg/subnet/subnet.go), kept as is, including the missing start anchor. */
const FLANNEL_KEY = /(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$/;

export function subnetKeyOf(subnet: Ipv4Net): string {
  return `${formatIpv4(subnet.ip)}-${subnet.prefixLen}`;
}

/** Parses the last path element of a subnets/ key; undefined when flannel would not accept it either. */
export function parseSubnetKey(key: string): Ipv4Net | undefined {
  const m = FLANNEL_KEY.exec(key);
  if (!m) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefixLen = Number(m[2]);
  if (ip === undefined || !Number.isInteger(prefixLen) || prefixLen > 32) return undefined;
  // A key whose address has host bits set names no subnet; flannel would mis-route it, we skip it.
  if (prefixLen < 32 && (ip & (2 ** (32 - prefixLen) - 1)) !== 0) return undefined;
  return { ip, prefixLen };
}

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

export function sameAttrs(a: LeaseAttrs, b: LeaseAttrs): boolean {
  return (
    a.publicIp === b.publicIp &&
    (a.backendType ?? '') === (b.backendType ?? '') &&
    JSON.stringify(a.backendData ?? null) === JSON.stringify(b.backendData ?? null)
  );
}

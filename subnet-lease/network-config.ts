/**
 * The network config stored at `<prefix>/config` (or in --net-config-path), parsed and validated with
 * flanneld's rules (pkg/subnet/config.go): keys match case-insensitively, SubnetLen/Min/Max get
 * flannel's defaults, and the backend type defaults to "udp". Every error names the field.
 */
import { OverlaydError } from '../core/errors.js';
import {
  containsIp,
  formatCidr,
  formatIpv4,
  maskOf,
  parseCidr,
  parseIpv4,
  sizeOf,
  type Ipv4Net,
} from '../core/ipv4.js';
import { BACKEND_TYPES, type BackendType, type NetworkConfig } from '../core/network.js';

function configError(field: string, problem: string, fix: string): OverlaydError {
  return new OverlaydError('BAD_CONFIG', `network config: ${field} ${problem}; ${fix}`);
}

/** Go's encoding/json matches struct fields case-insensitively; we do the same with one lowercased copy. */
export function lowerKeys(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const lk = k.toLowerCase();
    if (!(lk in out)) out[lk] = v;
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optionalString(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw configError(field, `must be a string, got ${JSON.stringify(v)}`, 'quote it');
  return v;
}

function optionalBool(obj: Record<string, unknown>, key: string, field: string, dflt: boolean): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean')
    throw configError(field, `must be true or false, got ${JSON.stringify(v)}`, 'use a JSON boolean');
  return v;
}

function optionalSubnetIp(obj: Record<string, unknown>, key: string, field: string): number | undefined {
  const text = optionalString(obj, key, field);
  if (text === undefined || text === '') return undefined;
  const ip = parseIpv4(text) ?? parseCidr(text)?.ip;
  if (ip === undefined)
    throw configError(field, `is not an IPv4 address: "${text}"`, 'write it like "10.244.10.0"');
  return ip;
}

/** Parses the JSON text of a network config; throws OverlaydError('BAD_CONFIG') naming the field. */
export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new OverlaydError(
      'BAD_CONFIG',
      `network config: not valid JSON (${(err as Error).message}); fix the JSON syntax`,
    );
  }
  if (!isObject(raw))
    throw configError('(top level)', 'must be a JSON object', 'write {"Network": "10.244.0.0/16"}');
  return validateNetworkConfig(lowerKeys(raw));
}

function validateNetworkConfig(cfg: Record<string, unknown>): NetworkConfig {
  if (optionalBool(cfg, 'enableipv6', 'EnableIPv6', false)) {
    throw configError(
      'EnableIPv6',
      'is true but overlayd supports IPv4 only',
      'remove EnableIPv6 or set it to false',
    );
  }
  if (!optionalBool(cfg, 'enableipv4', 'EnableIPv4', true)) {
    throw configError(
      'EnableIPv4',
      'is false but overlayd supports IPv4 only',
      'remove EnableIPv4 or set it to true',
    );
  }
  const networkText = optionalString(cfg, 'network', 'Network');
  if (networkText === undefined || networkText === '') {
    throw configError('Network', 'is missing', 'add "Network": "10.244.0.0/16"');
  }
  const network = parseCidr(networkText);
  if (!network)
    throw configError('Network', `is not an IPv4 CIDR: "${networkText}"`, 'write it like "10.244.0.0/16"');

  const subnetLen = resolveSubnetLen(cfg, network);
  const subnetSize = sizeOf(subnetLen);
  const subnetMask = maskOf(subnetLen);
  const checkBound = (ip: number, field: string): void => {
    if (!containsIp(network, ip)) {
      throw configError(
        field,
        `${formatIpv4(ip)} is outside Network ${formatCidr(network)}`,
        'pick an address inside Network',
      );
    }
    if ((ip & subnetMask) >>> 0 !== ip) {
      throw configError(
        field,
        `${formatIpv4(ip)} is not aligned to SubnetLen /${subnetLen}`,
        `use a /${subnetLen} network address`,
      );
    }
  };
  const givenMin = optionalSubnetIp(cfg, 'subnetmin', 'SubnetMin');
  const givenMax = optionalSubnetIp(cfg, 'subnetmax', 'SubnetMax');
  if (givenMin !== undefined) checkBound(givenMin, 'SubnetMin');
  if (givenMax !== undefined) checkBound(givenMax, 'SubnetMax');
  // flannel skips the first subnet by default (it holds the network address itself).
  const subnetMin = givenMin ?? network.ip + subnetSize;
  const subnetMax = givenMax ?? network.ip + sizeOf(network.prefixLen) - subnetSize;
  if (subnetMin > subnetMax) {
    throw configError(
      'SubnetMin',
      `${formatIpv4(subnetMin)} is above SubnetMax ${formatIpv4(subnetMax)}`,
      'swap or widen them',
    );
  }

  const backendRaw = cfg['backend'];
  if (backendRaw !== undefined && backendRaw !== null && !isObject(backendRaw)) {
    throw configError('Backend', 'must be an object', 'write "Backend": {"Type": "vxlan"}');
  }
  const backend = isObject(backendRaw) ? lowerKeys(backendRaw) : {};
  const typeText = (optionalString(backend, 'type', 'Backend.Type') ?? 'udp').toLowerCase() || 'udp';
  if (!(BACKEND_TYPES as readonly string[]).includes(typeText)) {
    throw configError('Backend.Type', `is unknown: "${typeText}"`, `use one of ${BACKEND_TYPES.join(', ')}`);
  }
  return {
    network,
    subnetLen,
    subnetMin,
    subnetMax,
    backendType: typeText as BackendType,
    backend,
    enableNFTables: optionalBool(cfg, 'enablenftables', 'EnableNFTables', false),
  };
}

function resolveSubnetLen(cfg: Record<string, unknown>, network: Ipv4Net): number {
  const v = cfg['subnetlen'];
  if (v !== undefined && v !== null && v !== 0) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw configError(
        'SubnetLen',
        `must be a whole number, got ${JSON.stringify(v)}`,
        'write e.g. "SubnetLen": 24',
      );
    }
    if (v > 30) throw configError('SubnetLen', `is /${v}, above the maximum /30`, 'use 30 or less');
    if (v < network.prefixLen + 2) {
      throw configError(
        'SubnetLen',
        `is /${v} but the network must be able to accommodate at least four subnets`,
        `use /${network.prefixLen + 2} or longer for Network /${network.prefixLen}`,
      );
    }
    return v;
  }
  if (network.prefixLen > 28) {
    throw configError(
      'Network',
      `/${network.prefixLen} is too small for four subnets`,
      'use a /28 or larger network',
    );
  }
  return network.prefixLen <= 22 ? 24 : network.prefixLen + 2;
}

/** How many subnets the allocator can hand out, for "out of subnets" messages. */
export function subnetCount(cfg: NetworkConfig): number {
  return (cfg.subnetMax - cfg.subnetMin) / sizeOf(cfg.subnetLen) + 1;
}

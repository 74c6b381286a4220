/**
 * The IPv6 half of flannel's network config (pkg/subnet/config.go CheckNetworkConfig with
 * EnableIPv6): IPv6Network is required; IPv6SubnetLen is at most /126 and leaves room for four
 * subnets, and defaults to /64 for a /62 or shorter network, else prefix + 2 (a network longer than
 * /124 is refused); IPv6SubnetMin/Max default to the second and the last subnet, and when given
 * must lie inside the network on a subnet boundary.
 */
import {
  containsIp6,
  formatCidr6,
  formatIpv6,
  maskOf6,
  parseCidr6,
  parseIpv6,
  sizeOf6,
  type Ipv6Net,
} from '../core/ipv6.js';
import type { Ipv6NetworkConfig } from '../core/network.js';
import { configError, optionalPrefixLen, optionalString } from './config-fields.js';

const EXAMPLE_NET = '"IPv6Network": "fd00:10:244::/56"';

function resolveSubnetLen6(cfg: Record<string, unknown>, network: Ipv6Net): number {
  const given = optionalPrefixLen(cfg, 'ipv6subnetlen', 'IPv6SubnetLen', 64);
  if (given !== undefined) {
    if (given > 126)
      throw configError('IPv6SubnetLen', `is /${given}, above the maximum /126`, 'use 126 or less');
    if (given < network.prefixLen + 2) {
      throw configError(
        'IPv6SubnetLen',
        `is /${given} but the network must be able to accommodate at least four subnets`,
        `use /${network.prefixLen + 2} or longer for IPv6Network /${network.prefixLen}`,
      );
    }
    return given;
  }
  if (network.prefixLen > 124) {
    throw configError(
      'IPv6Network',
      `/${network.prefixLen} is too small for four subnets (the minimum useful prefix is /124)`,
      'use a /124 or larger network',
    );
  }
  return network.prefixLen <= 62 ? 64 : network.prefixLen + 2;
}

function optionalSubnetIp6(cfg: Record<string, unknown>, key: string, field: string): bigint | undefined {
  const text = optionalString(cfg, key, field);
  if (text === undefined || text === '') return undefined;
  const ip = parseIpv6(text) ?? parseCidr6(text)?.ip;
  if (ip === undefined)
    throw configError(field, `is not an IPv6 address: "${text}"`, 'write it like "fd00:10:244:1::"');
  return ip;
}

/** Validates the IPv6 fields (called only when EnableIPv6 is true). */
export function validateIpv6Config(cfg: Record<string, unknown>): Ipv6NetworkConfig {
  const text = optionalString(cfg, 'ipv6network', 'IPv6Network');
  if (text === undefined || text === '')
    throw configError('IPv6Network', 'is missing but EnableIPv6 is true', `add ${EXAMPLE_NET}`);
  const network = parseCidr6(text);
  if (!network)
    throw configError('IPv6Network', `is not an IPv6 CIDR: "${text}"`, `write it like ${EXAMPLE_NET}`);
  const subnetLen = resolveSubnetLen6(cfg, network);
  const size = sizeOf6(subnetLen);
  const mask = maskOf6(subnetLen);
  const check = (ip: bigint, field: string): void => {
    if (!containsIp6(network, ip)) {
      throw configError(
        field,
        `${formatIpv6(ip)} is outside IPv6Network ${formatCidr6(network)}`,
        'pick an address inside IPv6Network',
      );
    }
    if ((ip & mask) !== ip) {
      throw configError(
        field,
        `${formatIpv6(ip)} is not on an IPv6SubnetLen /${subnetLen} boundary`,
        `use a /${subnetLen} network address`,
      );
    }
  };
  const givenMin = optionalSubnetIp6(cfg, 'ipv6subnetmin', 'IPv6SubnetMin');
  const givenMax = optionalSubnetIp6(cfg, 'ipv6subnetmax', 'IPv6SubnetMax');
  if (givenMin !== undefined) check(givenMin, 'IPv6SubnetMin');
  if (givenMax !== undefined) check(givenMax, 'IPv6SubnetMax');
  // As for IPv4, the first subnet is skipped: it holds the network address itself.
  const subnetMin = givenMin ?? network.ip + size;
  const subnetMax = givenMax ?? network.ip + sizeOf6(network.prefixLen) - size;
  if (subnetMin > subnetMax) {
    throw configError(
      'IPv6SubnetMin',
      `${formatIpv6(subnetMin)} is above IPv6SubnetMax ${formatIpv6(subnetMax)}`,
      'swap or widen them',
    );
  }
  return { network, subnetLen, subnetMin, subnetMax };
}

/** How many IPv6 subnets the allocator can hand out (a bigint: a /48 of /64s is 65536, a /32 far more). */
export function ipv6SubnetCount(v6: Ipv6NetworkConfig): bigint {
  return (v6.subnetMax - v6.subnetMin) / sizeOf6(v6.subnetLen) + 1n;
}

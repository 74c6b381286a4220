/**
 * Subnet choice, as flanneld makes it (local_manager.go tryAcquireLease), without I/O:
 *  1. a lease already holding our PublicIP is reused when compatible, deleted when not;
 *  2. else the subnet(s) from the previous subnet.env, when free and compatible;
 *  3. else one of the first 100 free subnets in [SubnetMin, SubnetMax], picked uniformly at random.
 * A dual-stack network (EnableIPv6) picks the IPv6 subnet beside the IPv4 one the same way, from
 * [IPv6SubnetMin, IPv6SubnetMax]; a lease is compatible only if both halves are, and a lease with
 * an IPv6 subnet is incompatible with an IPv4-only network (flannel's isIPv6SubnetConfigCompat).
 */
import { overlaps, sizeOf, type Ipv4Net } from '../core/ipv4.js';
import { overlaps6, sizeOf6, type Ipv6Net } from '../core/ipv6.js';
import type { Lease } from '../core/lease.js';
import type { Ipv6NetworkConfig, NetworkConfig } from '../core/network.js';
import type { LeaseSubnets } from '../core/subnet-key.js';

/** flannel stops collecting candidates at 100 so a huge network does not cost a huge walk. */
export const MAX_CANDIDATES = 100;

export function isCompatible(cfg: NetworkConfig, subnet: Ipv4Net): boolean {
  return subnet.prefixLen === cfg.subnetLen && subnet.ip >= cfg.subnetMin && subnet.ip <= cfg.subnetMax;
}

export function isIpv6Compatible(cfg: NetworkConfig, sn6: Ipv6Net | undefined): boolean {
  const v6 = cfg.ipv6;
  if (!v6) return sn6 === undefined;
  return (
    sn6 !== undefined && sn6.prefixLen === v6.subnetLen && sn6.ip >= v6.subnetMin && sn6.ip <= v6.subnetMax
  );
}

export function isLeaseCompatible(cfg: NetworkConfig, s: LeaseSubnets): boolean {
  return isCompatible(cfg, s.subnet) && isIpv6Compatible(cfg, s.ipv6Subnet);
}

export type AllocationPlan =
  | ({ kind: 'renew' } & LeaseSubnets)
  | ({ kind: 'create'; source: 'previous' | 'random'; deleteFirst?: LeaseSubnets } & LeaseSubnets)
  /** `family` says which range ran out. */
  | { kind: 'exhausted'; family: 'ipv4' | 'ipv6'; deleteFirst?: LeaseSubnets };

export function freeSubnets(
  cfg: NetworkConfig,
  taken: readonly Ipv4Net[],
  limit = MAX_CANDIDATES,
): Ipv4Net[] {
  const step = sizeOf(cfg.subnetLen);
  const out: Ipv4Net[] = [];
  // Sort once so the walk skips past taken ranges instead of testing every lease per candidate.
  const sorted = [...taken].sort((a, b) => a.ip - b.ip);
  let t = 0;
  for (let ip = cfg.subnetMin; ip <= cfg.subnetMax && out.length < limit; ip += step) {
    const cand = { ip, prefixLen: cfg.subnetLen };
    while (t < sorted.length && sorted[t]!.ip + sizeOf(sorted[t]!.prefixLen) <= ip) t++;
    let clash = false;
    for (let j = t; j < sorted.length && sorted[j]!.ip < ip + step; j++) {
      if (overlaps(sorted[j]!, cand)) {
        clash = true;
        break;
      }
    }
    // A lease with a shorter prefix that started before ip can still cover it.
    if (!clash && t > 0) clash = sorted.slice(0, t).some((s) => overlaps(s, cand));
    if (!clash) out.push(cand);
  }
  return out;
}

/** The IPv6 twin of freeSubnets, on bigints. */
export function freeSubnets6(
  v6: Ipv6NetworkConfig,
  taken: readonly Ipv6Net[],
  limit = MAX_CANDIDATES,
): Ipv6Net[] {
  const step = sizeOf6(v6.subnetLen);
  const out: Ipv6Net[] = [];
  const sorted = [...taken].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
  let t = 0;
  for (let ip = v6.subnetMin; ip <= v6.subnetMax && out.length < limit; ip += step) {
    const cand = { ip, prefixLen: v6.subnetLen };
    while (t < sorted.length && sorted[t]!.ip + sizeOf6(sorted[t]!.prefixLen) <= ip) t++;
    let clash = false;
    for (let j = t; j < sorted.length && sorted[j]!.ip < ip + step; j++) {
      if (overlaps6(sorted[j]!, cand)) {
        clash = true;
        break;
      }
    }
    if (!clash && t > 0) clash = sorted.slice(0, t).some((s) => overlaps6(s, cand));
    if (!clash) out.push(cand);
  }
  return out;
}

function pickOne<T>(free: readonly T[], random: () => number): T {
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))]!;
}

export function planAllocation(
  cfg: NetworkConfig,
  leases: readonly Lease[],
  publicIp: number,
  previous: LeaseSubnets | undefined,
  random: () => number = Math.random,
): AllocationPlan {
  let deleteFirst: LeaseSubnets | undefined;
  let others = leases;
  const mine = leases.find((l) => l.attrs.publicIp === publicIp);
  if (mine) {
    if (isLeaseCompatible(cfg, mine)) return { kind: 'renew', ...subnetsOf(mine) };
    deleteFirst = subnetsOf(mine);
    others = leases.filter((l) => l !== mine);
  }
  const taken = others.map((l) => l.subnet);
  const taken6 = others.flatMap((l) => (l.ipv6Subnet ? [l.ipv6Subnet] : []));
  const withDelete = <T extends object>(plan: T): T & { deleteFirst?: LeaseSubnets } =>
    deleteFirst ? { ...plan, deleteFirst } : plan;
  if (
    previous &&
    isLeaseCompatible(cfg, previous) &&
    !taken.some((s) => overlaps(s, previous.subnet)) &&
    !(previous.ipv6Subnet && taken6.some((s) => overlaps6(s, previous.ipv6Subnet!)))
  ) {
    return withDelete({ kind: 'create' as const, ...subnetsOf(previous), source: 'previous' as const });
  }
  const free = freeSubnets(cfg, taken);
  if (free.length === 0) return withDelete({ kind: 'exhausted' as const, family: 'ipv4' as const });
  const subnet = pickOne(free, random);
  if (!cfg.ipv6) return withDelete({ kind: 'create' as const, subnet, source: 'random' as const });
  const free6 = freeSubnets6(cfg.ipv6, taken6);
  if (free6.length === 0) return withDelete({ kind: 'exhausted' as const, family: 'ipv6' as const });
  const ipv6Subnet = pickOne(free6, random);
  return withDelete({ kind: 'create' as const, subnet, ipv6Subnet, source: 'random' as const });
}

/** Only the subnets of a lease (no attrs), in the shape plans carry; no ipv6Subnet key when absent. */
export function subnetsOf(s: LeaseSubnets): LeaseSubnets {
  return s.ipv6Subnet ? { subnet: s.subnet, ipv6Subnet: s.ipv6Subnet } : { subnet: s.subnet };
}

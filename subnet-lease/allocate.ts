/**
 * Subnet choice, as flanneld makes it (local_manager.go tryAcquireLease), without I/O:
 *  1. a lease already holding our PublicIP is reused when compatible, deleted when not;
 *  2. else the subnet from the previous subnet.env, when free and compatible;
 *  3. else one of the first 100 free subnets in [SubnetMin, SubnetMax], picked uniformly at random.
 */
import { overlaps, sizeOf, type Ipv4Net } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import type { NetworkConfig } from '../core/network.js';

/** flannel stops collecting candidates at 100 so a huge network does not cost a huge walk. */
export const MAX_CANDIDATES = 100;

export function isCompatible(cfg: NetworkConfig, subnet: Ipv4Net): boolean {
  return subnet.prefixLen === cfg.subnetLen && subnet.ip >= cfg.subnetMin && subnet.ip <= cfg.subnetMax;
}

export type AllocationPlan =
  | { kind: 'renew'; subnet: Ipv4Net }
  | { kind: 'create'; subnet: Ipv4Net; source: 'previous' | 'random'; deleteFirst?: Ipv4Net }
  | { kind: 'exhausted'; deleteFirst?: Ipv4Net };

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

export function planAllocation(
  cfg: NetworkConfig,
  leases: readonly Lease[],
  publicIp: number,
  previous: Ipv4Net | undefined,
  random: () => number = Math.random,
): AllocationPlan {
  let deleteFirst: Ipv4Net | undefined;
  let others = leases;
  const mine = leases.find((l) => l.attrs.publicIp === publicIp);
  if (mine) {
    if (isCompatible(cfg, mine.subnet)) return { kind: 'renew', subnet: mine.subnet };
    deleteFirst = mine.subnet;
    others = leases.filter((l) => l !== mine);
  }
  const taken = others.map((l) => l.subnet);
  const withDelete = <T extends object>(plan: T): T & { deleteFirst?: Ipv4Net } =>
    deleteFirst ? { ...plan, deleteFirst } : plan;
  if (previous && isCompatible(cfg, previous) && !taken.some((s) => overlaps(s, previous))) {
    return withDelete({ kind: 'create' as const, subnet: previous, source: 'previous' as const });
  }
  const free = freeSubnets(cfg, taken);
  if (free.length === 0) return withDelete({ kind: 'exhausted' as const });
  const pick = free[Math.min(free.length - 1, Math.floor(random() * free.length))]!;
  return withDelete({ kind: 'create' as const, subnet: pick, source: 'random' as const });
}

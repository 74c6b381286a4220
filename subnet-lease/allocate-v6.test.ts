import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/seeded-random.js';
import { freeSubnets6, planAllocation } from './allocate.js';
import { parseCidr, parseIpv4 } from '../core/ipv4.js';
import { formatCidr6, parseCidr6 } from '../core/ipv6.js';
import type { Lease } from '../core/lease.js';
import { parseNetworkConfig } from './network-config.js';

const dual = parseNetworkConfig(
  '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"alloc"}}',
);
const single = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
const lease = (v4: string, ip: string, v6?: string): Lease => ({
  subnet: parseCidr(v4)!,
  ...(v6 ? { ipv6Subnet: parseCidr6(v6)! } : {}),
  attrs: { publicIp: parseIpv4(ip)! },
});

describe('dual-stack allocation', () => {
  it('allocates an IPv6 subnet beside the IPv4 one, skipping taken ones', () => {
    const plan = planAllocation(
      dual,
      [lease('10.244.1.0/24', '9.9.9.1', 'fd00:10:244:1::/64'), lease('10.244.2.0/24', '9.9.9.2')],
      5,
      undefined,
      () => 0,
    );
    expect(plan.kind).toBe('create');
    if (plan.kind !== 'create') return;
    expect(plan.subnet).toEqual(parseCidr('10.244.3.0/24'));
    expect(formatCidr6(plan.ipv6Subnet!)).toBe('fd00:10:244:2::/64');
  });

  it('picks the IPv6 subnet uniformly among the first 100 free ones', () => {
    const free = freeSubnets6(dual.ipv6!, []);
    expect(free).toHaveLength(100);
    expect(formatCidr6(free[99]!)).toBe('fd00:10:244:64::/64');
    const rng = seededRandom();
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const p = planAllocation(dual, [], 5, undefined, () => rng.next());
      if (p.kind === 'create') seen.add(formatCidr6(p.ipv6Subnet!));
    }
    expect(seen.size, rng.why).toBeGreaterThan(90);
  });

  it('skips IPv6 ranges covered by a shorter taken prefix', () => {
    const free = freeSubnets6(dual.ipv6!, [parseCidr6('fd00:10:244::/60')!], 3);
    expect(free.map(formatCidr6)).toEqual([
      'fd00:10:244:10::/64',
      'fd00:10:244:11::/64',
      'fd00:10:244:12::/64',
    ]);
  });

  it('renews a dual-stack lease for our PublicIP; an IPv4-only one is incompatible and replaced', () => {
    const ours = lease('10.244.7.0/24', '2.2.2.2', 'fd00:10:244:7::/64');
    expect(planAllocation(dual, [ours], parseIpv4('2.2.2.2')!, undefined)).toEqual({
      kind: 'renew',
      subnet: ours.subnet,
      ipv6Subnet: ours.ipv6Subnet,
    });
    const v4only = lease('10.244.7.0/24', '2.2.2.2');
    const p = planAllocation(dual, [v4only], parseIpv4('2.2.2.2')!, undefined, () => 0);
    expect(p.kind === 'create' && p.deleteFirst).toEqual({ subnet: v4only.subnet });
    // and the reverse: a dual-stack lease does not fit an IPv4-only network
    const q = planAllocation(single, [ours], parseIpv4('2.2.2.2')!, undefined, () => 0);
    expect(q.kind === 'create' && q.deleteFirst).toEqual({
      subnet: ours.subnet,
      ipv6Subnet: ours.ipv6Subnet,
    });
    expect(q.kind === 'create' && q.ipv6Subnet).toBe(undefined);
  });

  it('reuses the previous subnet.env pair only when both halves fit and are free', () => {
    const prev = { subnet: parseCidr('10.244.42.0/24')!, ipv6Subnet: parseCidr6('fd00:10:244:42::/64')! };
    expect(planAllocation(dual, [], 5, prev)).toEqual({ kind: 'create', ...prev, source: 'previous' });
    const v6taken = planAllocation(
      dual,
      [lease('10.244.9.0/24', '9.9.9.9', 'fd00:10:244:42::/64')],
      5,
      prev,
      () => 0,
    );
    expect(v6taken.kind === 'create' && v6taken.source).toBe('random');
    const v4only = planAllocation(dual, [], 5, { subnet: prev.subnet }, () => 0);
    expect(v4only.kind === 'create' && v4only.source).toBe('random');
  });

  it('reports which family ran out', () => {
    const tiny = parseNetworkConfig(
      '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/124","IPv6SubnetMin":"fd00::4","IPv6SubnetMax":"fd00::4","Backend":{"Type":"alloc"}}',
    );
    const p = planAllocation(tiny, [lease('10.244.1.0/24', '9.9.9.9', 'fd00::4/126')], 5, undefined);
    expect(p).toEqual({ kind: 'exhausted', family: 'ipv6' });
  });
});

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/seeded-random.js';
import { freeSubnets, isCompatible, planAllocation } from './allocate.js';
import { formatCidr, parseCidr, parseIpv4 } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import { parseNetworkConfig } from './network-config.js';

const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
const lease = (cidr: string, ip: string): Lease => ({
  subnet: parseCidr(cidr)!,
  attrs: { publicIp: parseIpv4(ip)! },
});

describe('allocation plan', () => {
  it('renews the lease that holds our PublicIP when compatible', () => {
    const plan = planAllocation(
      cfg,
      [lease('10.244.7.0/24', '1.1.1.1'), lease('10.244.9.0/24', '2.2.2.2')],
      parseIpv4('2.2.2.2')!,
      undefined,
    );
    expect(plan).toEqual({ kind: 'renew', subnet: parseCidr('10.244.9.0/24') });
  });

  it('deletes our incompatible lease and allocates anew', () => {
    const plan = planAllocation(
      cfg,
      [lease('10.244.0.0/24', '2.2.2.2')],
      parseIpv4('2.2.2.2')!,
      undefined,
      () => 0,
    );
    expect(plan.kind).toBe('create');
    expect(plan.kind !== 'renew' && plan.deleteFirst).toEqual(parseCidr('10.244.0.0/24'));
    if (plan.kind === 'create') expect(formatCidr(plan.subnet)).toBe('10.244.1.0/24');
  });

  it('reuses the previous subnet.env subnet when free and compatible', () => {
    const prev = parseCidr('10.244.42.0/24')!;
    expect(planAllocation(cfg, [], 5, prev)).toEqual({ kind: 'create', subnet: prev, source: 'previous' });
    const taken = planAllocation(cfg, [lease('10.244.42.0/24', '9.9.9.9')], 5, prev, () => 0);
    expect(taken.kind === 'create' && taken.source).toBe('random');
    const wrongLen = planAllocation(cfg, [], 5, parseCidr('10.244.42.0/25')!, () => 0);
    expect(wrongLen.kind === 'create' && wrongLen.source).toBe('random');
  });

  it('picks uniformly among the first 100 free subnets', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const plan = planAllocation(cfg, [], 5, undefined, () => (i + 0.5) / 100);
      if (plan.kind === 'create') seen.add(formatCidr(plan.subnet));
    }
    expect(seen.size).toBe(100);
    expect(seen.has('10.244.1.0/24')).toBe(true);
    expect(seen.has('10.244.100.0/24')).toBe(true);
    expect(seen.has('10.244.101.0/24')).toBe(false);
  });

  it('reports exhaustion and respects SubnetMin/Max', () => {
    const small = parseNetworkConfig(
      '{"Network":"10.0.0.0/16","SubnetMin":"10.0.5.0","SubnetMax":"10.0.6.0"}',
    );
    const plan = planAllocation(
      small,
      [lease('10.0.5.0/24', '1.1.1.1'), lease('10.0.6.0/24', '1.1.1.2')],
      5,
      undefined,
    );
    expect(plan.kind).toBe('exhausted');
    expect(freeSubnets(small, []).map(formatCidr)).toEqual(['10.0.5.0/24', '10.0.6.0/24']);
    expect(isCompatible(small, parseCidr('10.0.7.0/24')!)).toBe(false);
  });

  it('treats a wider foreign lease as covering its subnets', () => {
    const free = freeSubnets(cfg, [parseCidr('10.244.0.0/20')!, parseCidr('10.244.17.0/24')!], 3);
    expect(free.map(formatCidr)).toEqual(['10.244.16.0/24', '10.244.18.0/24', '10.244.19.0/24']);
  });

  it('never returns a taken subnet (seeded property)', () => {
    const rng = seededRandom();
    for (let round = 0; round < 50; round++) {
      const small = parseNetworkConfig('{"Network":"10.9.0.0/20"}');
      const taken = Array.from({ length: Math.floor(rng.next() * 15) }, () =>
        parseCidr(`10.9.${Math.floor(rng.next() * 16)}.0/24`)!,
      );
      for (const s of freeSubnets(small, taken)) {
        expect(
          taken.some((t) => t.ip === s.ip),
          rng.why,
        ).toBe(false);
      }
      expect(freeSubnets(small, taken).length, rng.why).toBe(
        15 - new Set(taken.filter((t) => t.ip >= small.subnetMin).map((t) => t.ip)).size,
      );
    }
  });
});

import { describe, expect, it } from 'vitest';
import { parseCidr } from './ipv4.js';
import { parseCidr6 } from './ipv6.js';
import { leaseKeyOf, parseLeaseKey, parseSubnetKey } from './subnet-key.js';

// Keys from flannel's own tests (pkg/subnet/subnet_test.go TestSubnetNodev6 / TestSubnetNodeInvalid)
// and its fuzz corpus (pkg/subnet/etcd/fuzz_test.go): independent answers for our parser.
describe('dual-stack lease keys', () => {
  it('parses and rebuilds flannel dual-stack keys byte for byte', () => {
    for (const [key, v4, v6] of [
      ['10.12.13.0-24&fd00:12:13::-56', '10.12.13.0/24', 'fd00:12:13::/56'],
      ['10.5.1.0-24&fc00::-64', '10.5.1.0/24', 'fc00::/64'],
      ['10.244.3.0-24&fd00:10:244:3::-64', '10.244.3.0/24', 'fd00:10:244:3::/64'],
    ] as const) {
      const p = parseLeaseKey(key);
      expect(p.ok, key).toBe(true);
      if (!p.ok) continue;
      expect(p.subnets).toEqual({ subnet: parseCidr(v4), ipv6Subnet: parseCidr6(v6) });
      expect(leaseKeyOf(p.subnets)).toBe(key);
      expect(parseSubnetKey(key)).toEqual(parseCidr(v4));
    }
    expect(leaseKeyOf({ subnet: parseCidr('10.12.13.0/24')! })).toBe('10.12.13.0-24');
  });

  it('writes the IPv6 part in Go compressed text whatever form it came in', () => {
    const sn6 = parseCidr6('fd00:0010:0244:0003:0000:0000:0000:0000/64')!;
    expect(leaseKeyOf({ subnet: parseCidr('10.244.3.0/24')!, ipv6Subnet: sn6 })).toBe(
      '10.244.3.0-24&fd00:10:244:3::-64',
    );
  });

  it('refuses the keys flannel refuses, naming a bad IPv6 part as such', () => {
    for (const key of [
      '&2001::-56',
      '10.12.13.0-24&:12:13:-56',
      '10.12.13.0-24&20011::-56',
      '10.12.13.0-24&2001-56',
      '10.12.13.0-24&2001::',
      '10.12.13.0-24&2001::-56hi',
      '10.12.13.0-24&fd00::-129',
      '10.12.13.0-24&fd00::1-64',
      '10.12.13.0-24&FD00::-64',
    ]) {
      const p = parseLeaseKey(key);
      expect(p.ok, key).toBe(false);
      if (!p.ok && key.startsWith('10.')) expect(p.reason, key).toMatch(/IPv6 part/);
    }
    for (const key of ['10', '10.12.13.0', '10.12.13-24', '10.12.13.300-24', '10.12.13.0-24hi']) {
      expect(parseLeaseKey(key).ok, key).toBe(false);
    }
  });
});

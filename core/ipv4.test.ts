import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/seeded-random.js';
import {
  containsIp,
  formatCidr,
  formatIpv4,
  lastIp,
  maskOf,
  overlaps,
  parseCidr,
  parseIpv4,
} from './ipv4.js';

describe('ipv4', () => {
  it('parses and formats dotted quads', () => {
    expect(parseIpv4('10.244.3.0')).toBe(0x0af40300);
    expect(formatIpv4(0x0af40300)).toBe('10.244.3.0');
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'a.b.c.d', ' 1.2.3.4']) {
      expect(parseIpv4(bad), bad).toBeUndefined();
    }
  });

  it('round-trips every octet boundary', () => {
    const rng = seededRandom();
    for (let i = 0; i < 1000; i++) {
      const ip = Math.floor(rng.next() * 2 ** 32);
      expect(parseIpv4(formatIpv4(ip)), rng.why).toBe(ip);
    }
  });

  it('parses CIDRs, clearing or rejecting host bits', () => {
    expect(parseCidr('10.244.0.0/16')).toEqual({ ip: 0x0af40000, prefixLen: 16 });
    expect(parseCidr('10.244.1.7/16')).toEqual({ ip: 0x0af40000, prefixLen: 16 });
    expect(parseCidr('10.244.1.7/16', true)).toBeUndefined();
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('10.0.0.0')).toBeUndefined();
    expect(parseCidr('0.0.0.0/0')).toEqual({ ip: 0, prefixLen: 0 });
    expect(formatCidr(parseCidr('10.244.3.0/24')!)).toBe('10.244.3.0/24');
  });

  it('does mask, containment, overlap and last address', () => {
    expect(maskOf(0)).toBe(0);
    expect(maskOf(24)).toBe(0xffffff00);
    expect(maskOf(32)).toBe(0xffffffff);
    const net = parseCidr('10.244.0.0/16')!;
    expect(containsIp(net, parseIpv4('10.244.255.1')!)).toBe(true);
    expect(containsIp(net, parseIpv4('10.245.0.1')!)).toBe(false);
    expect(overlaps(net, parseCidr('10.244.3.0/24')!)).toBe(true);
    expect(overlaps(parseCidr('10.244.3.0/24')!, parseCidr('10.244.4.0/24')!)).toBe(false);
    expect(formatIpv4(lastIp(net))).toBe('10.244.255.255');
  });
});

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/seeded-random.js';
import { containsIp, parseCidr, parseIpv4 } from '../../core/ipv4.js';
import { RouteTable } from './route-table.js';

describe('RouteTable', () => {
  it('finds the longest matching prefix', () => {
    const t = new RouteTable<string>();
    t.set(parseIpv4('10.244.0.0')!, 16, 'wide');
    t.set(parseIpv4('10.244.3.0')!, 24, 'node3');
    t.set(parseIpv4('10.244.3.128')!, 25, 'half');
    expect(t.lookup(parseIpv4('10.244.3.200')!)).toBe('half');
    expect(t.lookup(parseIpv4('10.244.3.5')!)).toBe('node3');
    expect(t.lookup(parseIpv4('10.244.9.5')!)).toBe('wide');
    expect(t.lookup(parseIpv4('10.245.0.1')!)).toBeUndefined();
    expect(t.delete(parseIpv4('10.244.3.128')!, 25)).toBe(true);
    expect(t.lookup(parseIpv4('10.244.3.200')!)).toBe('node3');
    expect(t.size).toBe(2);
  });

  it('agrees with a linear longest-match scan (seeded property)', () => {
    const rng = seededRandom();
    for (let round = 0; round < 50; round++) {
      const t = new RouteTable<number>();
      const nets: Array<{ ip: number; prefixLen: number; id: number }> = [];
      for (let i = 0; i < 40; i++) {
        const prefixLen = 8 + ((rng.next() * 24) | 0);
        const net = parseCidr(
          `10.${(rng.next() * 4) | 0}.${(rng.next() * 256) | 0}.${(rng.next() * 256) | 0}/${prefixLen}`,
        )!;
        nets.push({ ...net, id: i });
        t.set(net.ip, net.prefixLen, i);
      }
      // the last set for the same (net,len) wins in both
      for (let q = 0; q < 500; q++) {
        const ip = parseIpv4(
          `10.${(rng.next() * 4) | 0}.${(rng.next() * 256) | 0}.${(rng.next() * 256) | 0}`,
        )!;
        let best: { prefixLen: number; id: number } | undefined;
        for (const n of nets) if (containsIp(n, ip) && (!best || n.prefixLen >= best.prefixLen)) best = n;
        expect(t.lookup(ip), rng.why).toBe(best?.id);
      }
    }
  });

  it('finds networks above 128.0.0.0 (keys are int32, as set and lookup both compute them)', () => {
    const t = new RouteTable<string>();
    t.set(parseIpv4('192.168.0.0')!, 16, 'wide');
    t.set(parseIpv4('192.168.7.0')!, 24, 'narrow');
    t.set(parseIpv4('10.244.0.0')!, 16, 'ten');
    expect(t.lookup(parseIpv4('192.168.7.9')!)).toBe('narrow');
    expect(t.lookup(parseIpv4('192.168.8.9')!)).toBe('wide');
    expect(t.lookup(parseIpv4('10.244.3.3')!)).toBe('ten');
    expect(t.lookup(parseIpv4('172.16.0.1')!)).toBeUndefined();
    expect(t.delete(parseIpv4('192.168.7.0')!, 24)).toBe(true);
    expect(t.lookup(parseIpv4('192.168.7.9')!)).toBe('wide');
  });
});

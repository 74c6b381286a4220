import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/seeded-random.js';
import {
  containsIp6,
  formatCidr6,
  formatIpv6,
  lastIp6,
  overlaps6,
  parseCidr6,
  parseIpv6,
  sizeOf6,
} from './ipv6.js';

// Known answers from Python's ipaddress (an independent RFC 5952 implementation): text, its
// compressed form (what Go's net.IP.String prints too), and the integer.
const KNOWN: [string, string, bigint][] = [
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 42540766411282592856904266426630537217n],
  ['2001:0db8::0001', '2001:db8::1', 42540766411282592856903984951653826561n],
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', 42540766411282592875351010504635121665n],
  ['0:0:0:0:0:0:0:0', '::', 0n],
  ['fd00:10:244:3::', 'fd00:10:244:3::', 336294684201935493103609304890088620032n],
  ['1::', '1::', 5192296858534827628530496329220096n],
  ['::1', '::1', 1n],
  ['::ffff:198.18.0.1', '::ffff:c612:1', 281474004811777n],
  ['fd00:0:0:0:0:0:0:1', 'fd00::1', 336294682933583715844663186250927177729n],
  ['1:0:0:2:0:0:0:3', '1:0:0:2::3', 5192296858534864522018643748323331n],
  ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0', 5192296860952679268604179609026560n],
  ['FD00:10:244::', 'fd00:10:244::', 336294684201935493048269072668959965184n],
];

describe('ipv6', () => {
  it('parses every form and prints RFC 5952 text (known answers)', () => {
    for (const [text, compressed, n] of KNOWN) {
      expect(parseIpv6(text), text).toBe(n);
      expect(formatIpv6(n), text).toBe(compressed);
    }
  });

  it('refuses what is not an address', () => {
    for (const bad of [
      '',
      ':',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::',
      'g::',
      '1:2:3:4:5:6:7::8:9',
      '::1.2.3.256',
      '10.0.0.1',
      ' ::1',
    ]) {
      expect(parseIpv6(bad), bad).toBeUndefined();
    }
  });

  it('round-trips random addresses, with and without zero runs', () => {
    const rng = seededRandom();
    for (let i = 0; i < 1000; i++) {
      let ip = 0n;
      for (let g = 0; g < 8; g++)
        ip = (ip << 16n) | BigInt(rng.next() < 0.4 ? 0 : Math.floor(rng.next() * 65536));
      expect(parseIpv6(formatIpv6(ip)), rng.why).toBe(ip);
    }
  });

  it('parses prefixes as Go ParseCIDR does, strictly when asked', () => {
    expect(formatCidr6(parseCidr6('fd00:10:244::/56')!)).toBe('fd00:10:244::/56');
    expect(formatCidr6(parseCidr6('fd00:10:244:3::1/64')!)).toBe('fd00:10:244:3::/64');
    expect(parseCidr6('fd00:10:244:3::1/64', true)).toBeUndefined();
    expect(parseCidr6('fd00::/129')).toBeUndefined();
    expect(parseCidr6('fd00::')).toBeUndefined();
    expect(parseCidr6('10.0.0.0/8')).toBeUndefined();
  });

  it('does containment, overlap and range ends', () => {
    const net = parseCidr6('fd00:10:244::/56')!;
    const sub = parseCidr6('fd00:10:244:3::/64')!;
    expect(containsIp6(net, sub.ip)).toBe(true);
    expect(containsIp6(net, parseIpv6('fd00:10:245::')!)).toBe(false);
    expect(overlaps6(net, sub)).toBe(true);
    expect(overlaps6(sub, parseCidr6('fd00:10:244:4::/64')!)).toBe(false);
    expect(formatIpv6(lastIp6(net))).toBe('fd00:10:244:ff:ffff:ffff:ffff:ffff');
    expect(sizeOf6(64)).toBe(2n ** 64n);
  });
});

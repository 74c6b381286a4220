import { describe, expect, it } from 'vitest';
import { formatIpv6 } from '../core/ipv6.js';
import { IPV6_BACKENDS } from '../core/network.js';
import { ipv6SubnetCount } from './network-config-v6.js';
import { parseNetworkConfig } from './network-config.js';

const dual = (extra: string): string =>
  `{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"alloc"}${extra}}`;

describe('IPv6 network config (flannel config.go rules)', () => {
  it('applies flannel defaults: /64 subnets, the second to the last', () => {
    const cfg = parseNetworkConfig(dual(''));
    const v6 = cfg.ipv6!;
    expect(v6.subnetLen).toBe(64);
    expect(formatIpv6(v6.subnetMin)).toBe('fd00:10:244:1::');
    expect(formatIpv6(v6.subnetMax)).toBe('fd00:10:244:ff::');
    expect(ipv6SubnetCount(v6)).toBe(255n);
    expect(cfg.subnetLen).toBe(24); // the IPv4 half is untouched
  });

  it('is off by default and ignores IPv6Network without EnableIPv6, as flannel does', () => {
    expect(parseNetworkConfig('{"Network":"10.244.0.0/16"}').ipv6).toBeUndefined();
    expect(parseNetworkConfig('{"Network":"10.244.0.0/16","IPv6Network":"fd00::/56"}').ipv6).toBeUndefined();
    expect(parseNetworkConfig('{"Network":"10.244.0.0/16","EnableIPv6":false}').ipv6).toBeUndefined();
  });

  it('defaults IPv6SubnetLen to /64 up to a /62 network, then prefix + 2', () => {
    const len = (net: string): number =>
      parseNetworkConfig(
        `{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"${net}","Backend":{"Type":"alloc"}}`,
      ).ipv6!.subnetLen;
    expect(len('fd00::/48')).toBe(64);
    expect(len('fd00::/62')).toBe(64);
    expect(len('fd00::/63')).toBe(65);
    expect(len('fd00::/124')).toBe(126);
  });

  it('matches keys case-insensitively and honours IPv6SubnetLen/Min/Max', () => {
    const cfg = parseNetworkConfig(
      '{"network":"10.0.0.0/16","enableipv6":true,"ipv6network":"fd00:10::/48","ipv6subnetlen":80,' +
        '"IPv6SubnetMin":"fd00:10:0:5::","IPv6SubnetMax":"fd00:10:0:5:9::","backend":{"type":"alloc"}}',
    );
    expect(cfg.ipv6!.subnetLen).toBe(80);
    expect(ipv6SubnetCount(cfg.ipv6!)).toBe(10n);
  });

  it('accepts EnableIPv4 true or absent, and refuses IPv6-only with the reason', () => {
    expect(parseNetworkConfig(dual(',"EnableIPv4":true')).ipv6).toBeDefined();
    expect(() => parseNetworkConfig(dual(',"EnableIPv4":false'))).toThrow(
      /EnableIPv4 is false, but IPv6-only networks cannot be stored in etcd.*set it to true/,
    );
  });

  it('refuses EnableIPv6 with udp (IPv4-only, as flannel) in one line naming the IPv6 backends', () => {
    for (const t of ['', ',"Backend":{"Type":"udp"}']) {
      const text = `{"Network":"10.0.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/48"${t}}`;
      expect(() => parseNetworkConfig(text)).toThrow(
        new RegExp(
          `^network config: EnableIPv6 is true but Backend.Type udp carries IPv4 only; use Backend.Type ${IPV6_BACKENDS.join(' or ')} for dual-stack, or set EnableIPv6 to false$`,
        ),
      );
    }
  });

  const bad: Array<[string, string, RegExp]> = [
    [
      'missing IPv6Network',
      '{"Network":"10.0.0.0/16","EnableIPv6":true,"Backend":{"Type":"alloc"}}',
      /IPv6Network is missing but EnableIPv6 is true; add/,
    ],
    [
      'IPv6Network not a CIDR',
      dual('').replace('fd00:10:244::/56', 'fd00:10:244::'),
      /IPv6Network is not an IPv6 CIDR.*write it like/,
    ],
    [
      'IPv6Network an IPv4 CIDR',
      dual('').replace('fd00:10:244::/56', '10.1.0.0/16'),
      /IPv6Network is not an IPv6 CIDR/,
    ],
    [
      'IPv6Network wrong type',
      dual('').replace('"fd00:10:244::/56"', '5'),
      /IPv6Network must be a string, got 5; quote it/,
    ],
    [
      'tiny IPv6Network',
      dual('').replace('/56', '/125'),
      /IPv6Network \/125 is too small.*\/124\); use a \/124/,
    ],
    [
      'IPv6SubnetLen above 126',
      dual(',"IPv6SubnetLen":127'),
      /IPv6SubnetLen is \/127, above the maximum \/126; use 126/,
    ],
    [
      'IPv6SubnetLen too short',
      dual(',"IPv6SubnetLen":57'),
      /IPv6SubnetLen is \/57 .*four subnets; use \/58 or longer/,
    ],
    ['IPv6SubnetLen not a number', dual(',"IPv6SubnetLen":"64"'), /IPv6SubnetLen must be a whole number/],
    [
      'IPv6SubnetMin outside',
      dual(',"IPv6SubnetMin":"fd00:11::"'),
      /IPv6SubnetMin fd00:11:: is outside IPv6Network fd00:10:244::\/56; pick/,
    ],
    [
      'IPv6SubnetMax unaligned',
      dual(',"IPv6SubnetMax":"fd00:10:244:5::1"'),
      /IPv6SubnetMax fd00:10:244:5::1 is not on an IPv6SubnetLen \/64 boundary; use a \/64/,
    ],
    [
      'IPv6SubnetMin not an address',
      dual(',"IPv6SubnetMin":"ten"'),
      /IPv6SubnetMin is not an IPv6 address.*write it like/,
    ],
    [
      'IPv6 min above max',
      dual(',"IPv6SubnetMin":"fd00:10:244:9::","IPv6SubnetMax":"fd00:10:244:3::"'),
      /IPv6SubnetMin .* above IPv6SubnetMax \S+; swap/,
    ],
    [
      'EnableIPv6 not a boolean',
      dual('').replace('"EnableIPv6":true', '"EnableIPv6":"yes"'),
      /EnableIPv6 must be true or false/,
    ],
    ['EnableIPv4 not a boolean', dual(',"EnableIPv4":1'), /EnableIPv4 must be true or false/],
    ['EnableNFTables not a boolean', dual(',"EnableNFTables":"on"'), /EnableNFTables must be true or false/],
  ];
  for (const [name, text, message] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => parseNetworkConfig(text)).toThrow(message);
    });
  }
});

import { describe, expect, it } from 'vitest';
import { formatIpv4 } from '../core/ipv4.js';
import { parseNetworkConfig, subnetCount } from './network-config.js';

describe('network config', () => {
  it('applies flannel defaults for a /16', () => {
    const cfg = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    expect(cfg.subnetLen).toBe(24);
    expect(formatIpv4(cfg.subnetMin)).toBe('10.244.1.0');
    expect(formatIpv4(cfg.subnetMax)).toBe('10.244.255.0');
    expect(cfg.backendType).toBe('udp');
    expect(subnetCount(cfg)).toBe(255);
  });

  it('uses prefix+2 for networks longer than /22', () => {
    expect(parseNetworkConfig('{"Network":"10.0.0.0/23"}').subnetLen).toBe(25);
    expect(parseNetworkConfig('{"Network":"10.0.0.0/28"}').subnetLen).toBe(30);
    expect(parseNetworkConfig('{"Network":"10.0.0.0/22"}').subnetLen).toBe(24);
  });

  it('matches keys case-insensitively and lowercases the backend type', () => {
    const cfg = parseNetworkConfig(
      '{"network":"10.1.0.0/16","subnetlen":26,"BACKEND":{"type":"VXLAN","vni":4,"DirectRouting":true}}',
    );
    expect(cfg.subnetLen).toBe(26);
    expect(cfg.backendType).toBe('vxlan');
    expect(cfg.backend['vni']).toBe(4);
    expect(cfg.backend['directrouting']).toBe(true);
  });

  it('honours SubnetMin and SubnetMax', () => {
    const cfg = parseNetworkConfig(
      '{"Network":"10.244.0.0/16","SubnetMin":"10.244.10.0","SubnetMax":"10.244.19.0"}',
    );
    expect(subnetCount(cfg)).toBe(10);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['missing Network', '{}', /Network is missing/],
    ['Network not a CIDR', '{"Network":"10.244.0.0"}', /Network is not an IPv4 CIDR/],
    ['Network wrong type', '{"Network":17}', /Network must be a string/],
    ['tiny network', '{"Network":"10.0.0.0/29"}', /Network \/29 is too small/],
    ['SubnetLen above 30', '{"Network":"10.0.0.0/8","SubnetLen":31}', /SubnetLen is \/31, above the maximum/],
    ['SubnetLen too short', '{"Network":"10.0.0.0/16","SubnetLen":17}', /SubnetLen .*at least four subnets/],
    [
      'SubnetLen not a number',
      '{"Network":"10.0.0.0/16","SubnetLen":"24"}',
      /SubnetLen must be a whole number/,
    ],
    [
      'SubnetMin outside',
      '{"Network":"10.0.0.0/16","SubnetMin":"10.1.0.0"}',
      /SubnetMin 10.1.0.0 is outside Network/,
    ],
    [
      'SubnetMax unaligned',
      '{"Network":"10.0.0.0/16","SubnetMax":"10.0.5.7"}',
      /SubnetMax 10.0.5.7 is not aligned/,
    ],
    ['SubnetMin bad text', '{"Network":"10.0.0.0/16","SubnetMin":"ten"}', /SubnetMin is not an IPv4 address/],
    [
      'min above max',
      '{"Network":"10.0.0.0/16","SubnetMin":"10.0.9.0","SubnetMax":"10.0.3.0"}',
      /SubnetMin .* above SubnetMax/,
    ],
    [
      'unknown backend',
      '{"Network":"10.0.0.0/16","Backend":{"Type":"ipsec"}}',
      /Backend.Type is unknown: "ipsec"/,
    ],
    ['backend not object', '{"Network":"10.0.0.0/16","Backend":"vxlan"}', /Backend must be an object/],
    ['IPv6', '{"Network":"10.0.0.0/16","EnableIPv6":true}', /EnableIPv6 is true/],
    ['not JSON', '{"Network":', /not valid JSON/],
    ['array', '[1]', /must be a JSON object/],
  ];
  for (const [name, text, message] of bad) {
    it(`rejects ${name}`, () => {
      expect(() => parseNetworkConfig(text)).toThrow(message);
    });
  }
});

import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/support/seeded-random.js';
import { parseIpv4 } from '../core/ipv4.js';
import { encodeLeaseAttrs, parseLeaseAttrs } from './lease.js';

describe('lease attrs', () => {
  it('encodes exactly as flanneld does for each backend', () => {
    const ip = parseIpv4('192.168.64.3')!;
    expect(encodeLeaseAttrs({ publicIp: ip })).toBe('{"PublicIP":"192.168.64.3","PublicIPv6":null}');
    expect(encodeLeaseAttrs({ publicIp: ip, backendType: 'host-gw' })).toBe(
      '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"host-gw"}',
    );
    expect(
      encodeLeaseAttrs({
        publicIp: ip,
        backendType: 'vxlan',
        backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' },
      }),
    ).toBe(
      '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
    );
  });

  it('parses flanneld values, case-insensitively', () => {
    const a = parseLeaseAttrs(
      '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
    );
    expect(a).toEqual({
      publicIp: parseIpv4('192.168.64.3'),
      backendType: 'vxlan',
      backendData: { VNI: 1, VtepMAC: 'c6:d2:32:6f:8f:44' },
    });
    expect(parseLeaseAttrs('{"publicip":"10.0.0.1"}')).toEqual({ publicIp: parseIpv4('10.0.0.1') });
  });

  it('rejects malformed values with the reason', () => {
    expect(() => parseLeaseAttrs('nope')).toThrow(/not JSON/);
    expect(() => parseLeaseAttrs('[]')).toThrow(/not a JSON object/);
    expect(() => parseLeaseAttrs('{"PublicIP":12}')).toThrow(/PublicIP is not an IPv4/);
    expect(() => parseLeaseAttrs('{}')).toThrow(/PublicIP/);
    expect(() => parseLeaseAttrs('{"PublicIP":"1.2.3.4","BackendType":5}')).toThrow(
      /BackendType is not a string/,
    );
  });

  it('never throws anything but a lease error on random input', () => {
    const rng = seededRandom();
    for (let i = 0; i < 2000; i++) {
      const bytes = Array.from({ length: Math.floor(rng.next() * 40) }, () =>
        String.fromCharCode(32 + Math.floor(rng.next() * 95)),
      );
      const text = rng.next() < 0.5 ? bytes.join('') : `{"PublicIP":${JSON.stringify(bytes.join(''))}}`;
      try {
        parseLeaseAttrs(text);
      } catch (err) {
        expect((err as { code?: string }).code, `${rng.why}: ${text}`).toBe('BAD_LEASE');
      }
    }
  });
});

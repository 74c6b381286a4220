import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../core/ipv4.js';
import { parseIpv6 } from '../core/ipv6.js';
import { encodeLeaseAttrs, parseLeaseAttrs } from './lease.js';

// flanneld marshals LeaseAttrs{PublicIP, PublicIPv6 *IP6, BackendType, BackendData, BackendV6Data}
// in struct order; the value below is from flannel's etcd fuzz corpus (fuzz_test.go).
const FLANNEL_CORPUS = '{"PublicIP":"192.168.0.1","PublicIPv6":"fc00::1"}';
const VXLAN_DUAL =
  '{"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"vxlan",' +
  '"BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"2a:11:22:33:44:55"}}';

describe('dual-stack lease attrs', () => {
  it('reads a flanneld dual-stack value and writes it back byte for byte', () => {
    const a = parseLeaseAttrs(FLANNEL_CORPUS);
    expect(a).toEqual({ publicIp: parseIpv4('192.168.0.1'), publicIpv6: parseIpv6('fc00::1') });
    expect(encodeLeaseAttrs(a)).toBe(FLANNEL_CORPUS);
    const v = parseLeaseAttrs(VXLAN_DUAL);
    expect(v.publicIpv6).toBe(parseIpv6('fd00:198:18::1'));
    expect(v.backendV6Data).toEqual({ VNI: 1, VtepMAC: '2a:11:22:33:44:55' });
    expect(encodeLeaseAttrs(v)).toBe(VXLAN_DUAL);
  });

  it('writes PublicIPv6 as null for a single-stack lease and in Go text when set', () => {
    expect(encodeLeaseAttrs({ publicIp: parseIpv4('198.18.0.1')!, backendType: 'host-gw' })).toBe(
      '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}',
    );
    expect(
      encodeLeaseAttrs({
        publicIp: parseIpv4('198.18.0.1')!,
        publicIpv6: parseIpv6('fd00:0198:0018:0000:0000:0000:0000:0001')!,
        backendType: 'host-gw',
      }),
    ).toBe('{"PublicIP":"198.18.0.1","PublicIPv6":"fd00:198:18::1","BackendType":"host-gw"}');
  });

  it('refuses a PublicIPv6 that is not an IPv6 address, as Go fails the whole value', () => {
    expect(() => parseLeaseAttrs('{"PublicIP":"1.2.3.4","PublicIPv6":"nope"}')).toThrow(/PublicIPv6/);
    expect(() => parseLeaseAttrs('{"PublicIP":"1.2.3.4","PublicIPv6":7}')).toThrow(/PublicIPv6/);
  });
});

import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../../core/ipv4.js';
import { parseCidr6, parseIpv6 } from '../../core/ipv6.js';
import type { Lease } from '../../core/lease.js';
import { parseWgBackendData, refuseOneDeviceModes, wgPeer6Of } from './wireguard-backend.js';

const KEY = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';

describe("a wireguard lease's BackendData", () => {
  it("reads flannel's {PublicKey, Port}, keys in any case", () => {
    const d = parseWgBackendData({ PublicKey: KEY, Port: 51830 })!;
    expect(Buffer.from(d.publicKey).toString('base64')).toBe(KEY);
    expect(d.port).toBe(51830);
    expect(parseWgBackendData({ publickey: KEY, port: 5 })!.port).toBe(5);
  });
  it('has no Port from flannel before v0.26.6 (the caller uses its ListenPort)', () => {
    expect(parseWgBackendData({ PublicKey: KEY })!.port).toBeUndefined();
    expect(parseWgBackendData({ PublicKey: KEY, Port: 0 })!.port).toBeUndefined();
  });
  it('is unusable without a 32-byte base64 key', () => {
    for (const d of [
      undefined,
      null,
      'x',
      {},
      { PublicKey: 'abc' },
      { PublicKey: KEY.slice(1) },
      { PublicKey: 5 },
    ])
      expect(parseWgBackendData(d)).toBeUndefined();
  });
});

describe('dual-stack wireguard (flannel-wg-v6)', () => {
  const lease = (attrs: Partial<Lease['attrs']>, v6 = true): Lease => ({
    subnet: parseCidr('10.244.3.0/24')!,
    ...(v6 ? { ipv6Subnet: parseCidr6('fd00:10:244:3::/64')! } : {}),
    attrs: { publicIp: parseIpv4('198.18.0.3')!, backendType: 'wireguard', ...attrs },
  });
  const pub6 = parseIpv6('fd00:198:18::3')!;

  it("makes a peer of a lease's PublicIPv6 and BackendV6Data, allowed IPs its IPv6 subnet", () => {
    const e = wgPeer6Of(lease({ publicIpv6: pub6, backendV6Data: { PublicKey: KEY, Port: 51831 } }), 51821)!;
    expect(Buffer.from(e.publicKey!).toString('base64')).toBe(KEY);
    expect(e.port).toBe(51831);
    expect([...e.publicIp6!]).toEqual([0xfd000198, 0x00180000, 0, 3]);
    expect([...e.subnetIp6!]).toEqual([0xfd000010, 0x02440003, 0, 0]);
    expect(e.prefixLen6).toBe(64);
    expect(e.publicIp).toBe(0); // the IPv6 engine routes by the IPv6 fields only
  });

  it('uses our ListenPortV6 for a BackendV6Data without Port (flannel before v0.26.6)', () => {
    expect(wgPeer6Of(lease({ publicIpv6: pub6, backendV6Data: { PublicKey: KEY } }), 51821)!.port).toBe(
      51821,
    );
  });

  it('is no IPv6 peer without an IPv6 subnet, a PublicIPv6, a usable BackendV6Data, or another backend', () => {
    const data = { PublicKey: KEY, Port: 51821 };
    expect(wgPeer6Of(lease({ publicIpv6: pub6, backendV6Data: data }, false), 51821)).toBeUndefined();
    expect(wgPeer6Of(lease({ backendV6Data: data }), 51821)).toBeUndefined();
    expect(wgPeer6Of(lease({ publicIpv6: pub6, backendData: data }), 51821)).toBeUndefined();
    expect(wgPeer6Of(lease({ publicIpv6: pub6, backendV6Data: { PublicKey: 'x' } }), 51821)).toBeUndefined();
    expect(
      wgPeer6Of(lease({ publicIpv6: pub6, backendV6Data: data, backendType: 'vxlan' }), 51821),
    ).toBeUndefined();
  });

  it('accepts Mode separate with or without EnableIPv6, and auto or ipv4 without it', () => {
    for (const [mode, dual] of [
      ['separate', true],
      ['separate', false],
      ['auto', false],
      ['ipv4', false],
    ] as const)
      expect(() => refuseOneDeviceModes(mode, dual)).not.toThrow();
  });

  it.each([
    ['auto', true, 'one flannel-wg device carrying both families'],
    ['ipv4', true, 'one flannel-wg device carrying both families'],
    ['ipv6', true, 'one flannel-wg device carrying both families'],
    ['ipv6', false, 'flannel-wg with IPv6 endpoints'],
  ] as const)(
    'refuses Mode %s (EnableIPv6 %s) in one line naming Backend.Mode and the fix',
    (mode, dual, what) => {
      let err: (Error & { code?: string }) | undefined;
      try {
        refuseOneDeviceModes(mode, dual);
      } catch (e) {
        err = e as Error & { code?: string };
      }
      expect(err?.code).toBe('BAD_CONFIG');
      expect(err?.message).toBe(
        `network config: Backend.Mode "${mode}" (${what}) is not supported by overlayd's userspace WireGuard; use Backend.Mode "separate" (the default: flannel-wg, and flannel-wg-v6 with EnableIPv6)`,
      );
    },
  );
});

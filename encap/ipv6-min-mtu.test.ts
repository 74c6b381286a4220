import { describe, expect, it } from 'vitest';
import { refuseBelowIpv6MinMtu } from './ipv6-min-mtu.js';

describe('IPv6 minimum MTU of an overlay device', () => {
  it('accepts a device of exactly 1280 and above', () => {
    expect(() => refuseBelowIpv6MinMtu('flannel-v6.1', 1350, 70)).not.toThrow();
    expect(() => refuseBelowIpv6MinMtu('flannel-wg-v6', 1500, 80)).not.toThrow();
  });
  it('refuses 1279 in one line naming the device, the setting and the base it needs', () => {
    let err: (Error & { code?: string }) | undefined;
    try {
      refuseBelowIpv6MinMtu('flannel-wg-v6', 1359, 80);
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('BAD_CONFIG');
    expect(err?.message).toBe(
      "network config: flannel-wg-v6 would get MTU 1279 (base 1359 − 80), below IPv6's minimum of 1280; raise Backend.MTU or the interface MTU to at least 1360, or disable EnableIPv6",
    );
  });
});

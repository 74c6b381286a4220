import { describe, expect, it } from 'vitest';
import { defaultRoute6FromProc, defaultRouteFromProc } from './host-view.js';

describe('host view', () => {
  it('reads the default route from /proc/net/route', () => {
    const text = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'eth1\t00000000\t0100000A\t0003\t0\t0\t200\t00000000\t0\t0\t0',
      'eth0\t00000000\t640012C6\t0003\t0\t0\t100\t00000000\t0\t0\t0',
      'eth0\t000012C6\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    ].join('\n');
    expect(defaultRouteFromProc(text)).toBe('eth0');
    expect(defaultRouteFromProc('Iface\tDestination\n')).toBeUndefined();
  });

  it('reads the IPv6 default route from /proc/net/ipv6_route, ignoring the unreachable one on lo', () => {
    const z = '0'.repeat(32);
    const text = [
      `fd000000000000000000000000000000 40 ${z} 00 ${z} 00000100 00000001 00000000 00000001     eth0`,
      `${z} 00 ${z} 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth1`,
      `${z} 00 ${z} 00 fd000000000000000000000000000002 00000200 00000001 00000000 00000003     eth0`,
      `${z} 00 ${z} 00 ${z} ffffffff 00000001 00000000 00200200       lo`,
    ].join('\n');
    expect(defaultRoute6FromProc(text)).toBe('eth0');
    expect(defaultRoute6FromProc(text.split('\n')[3]!)).toBeUndefined();
  });
});

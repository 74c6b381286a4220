import { describe, expect, it } from 'vitest';
import { defaultRouteFromProc } from './host-view.js';

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
});

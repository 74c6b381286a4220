import { describe, expect, it } from 'vitest';
import { defaultRouteFromProc, selectInterface, type HostView } from './iface.js';

const view: HostView = {
  interfaces: [
    { name: 'lo', addrs: ['127.0.0.1'], mtu: 65536 },
    { name: 'eth0', addrs: ['198.18.0.1'], mtu: 1500 },
    { name: 'eth1', addrs: ['192.0.2.7', '192.0.2.8'], mtu: 9000 },
    { name: 'dummy0', addrs: [], mtu: 1500 },
  ],
  defaultRouteIface: 'eth0',
};
const none = { iface: [], ifaceRegex: [], publicIp: '' };

describe('interface selection', () => {
  it('uses the default route interface by default', () => {
    expect(selectInterface(view, none)).toMatchObject({
      name: 'eth0',
      ifaceAddr: '198.18.0.1',
      publicIp: '198.18.0.1',
      mtu: 1500,
      reason: 'default route interface',
    });
  });

  it('tries --iface names and IPs in order, then regexes', () => {
    expect(selectInterface(view, { ...none, iface: ['wlan0', 'eth1'] }).name).toBe('eth1');
    expect(selectInterface(view, { ...none, iface: ['192.0.2.8'] })).toMatchObject({
      name: 'eth1',
      ifaceAddr: '192.0.2.8',
    });
    expect(selectInterface(view, { ...none, ifaceRegex: ['^eth1$'] }).name).toBe('eth1');
    expect(selectInterface(view, { ...none, ifaceRegex: ['^192\\.0\\.2\\.8$'] }).ifaceAddr).toBe('192.0.2.8');
  });

  it('uses --public-ip as ExtAddr, and to find the interface when nothing else is given', () => {
    expect(selectInterface(view, { ...none, iface: ['eth0'], publicIp: '203.0.113.5' })).toMatchObject({
      ifaceAddr: '198.18.0.1',
      publicIp: '203.0.113.5',
    });
    expect(selectInterface(view, { ...none, publicIp: '192.0.2.7' }).name).toBe('eth1');
    expect(() => selectInterface(view, { ...none, publicIp: '203.0.113.5' })).toThrow(
      /--public-ip 203.0.113.5 is not an address of this host/,
    );
  });

  it('explains failures', () => {
    expect(() => selectInterface(view, { ...none, iface: ['wlan0'] })).toThrow(
      /no interface matches --iface wlan0; interfaces with IPv4 here: lo/,
    );
    expect(() => selectInterface({ interfaces: view.interfaces }, none)).toThrow(/no default route/);
    expect(() => selectInterface({ ...view, defaultRouteIface: 'dummy0' }, none)).toThrow(
      /dummy0 has no IPv4 address/,
    );
  });

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

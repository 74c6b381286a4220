import { describe, expect, it } from 'vitest';
import type { HostView } from '../sys/host-view.js';
import { selectInterface } from './iface.js';

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
});

import { describe, expect, it } from 'vitest';
import { readHostView, type HostView } from '../sys/host-view.js';
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

describe('reading the host', () => {
  const addr = (address: string) => ({
    address,
    netmask: '255.255.255.0',
    family: 'IPv4' as const,
    mac: '02:00:00:00:00:01',
    internal: false,
    cidr: `${address}/24`,
  });
  const io = (mtus: Record<string, string | Error>) => ({
    networkInterfaces: () => ({ eth0: [addr('198.18.0.1')], eth1: [addr('198.18.1.1')] }),
    readFile: (path: string): string => {
      const name = /^\/sys\/class\/net\/([^/]+)\/mtu$/.exec(path)?.[1];
      const v = name === undefined ? undefined : mtus[name];
      if (v === undefined || v instanceof Error)
        throw Object.assign(v ?? new Error('no such file'), { code: 'ENOENT' });
      return v;
    },
  });

  it('makes an unreadable MTU of the chosen interface a start-up error naming it and the file', () => {
    const view = readHostView(io({ eth1: '1500\n', eth0: new Error('gone') }));
    expect(() => selectInterface(view, { ...none, iface: ['eth0'] })).toThrow(
      'external interface eth0: cannot read its MTU from /sys/class/net/eth0/mtu (ENOENT); cannot size the overlay (FLANNEL_MTU) without it: check the interface, or pick another with --iface',
    );
    // Another interface's unreadable MTU does not matter.
    expect(selectInterface(view, { ...none, iface: ['eth1'] }).mtu).toBe(1500);
  });

  it('refuses an MTU file that does not hold a positive number', () => {
    for (const bad of ['', '0', 'abc', '-1']) {
      const view = readHostView(io({ eth0: bad }));
      expect(() => selectInterface(view, { ...none, iface: ['eth0'] })).toThrow(
        `external interface eth0: /sys/class/net/eth0/mtu holds ${JSON.stringify(bad)}, not an MTU`,
      );
    }
  });
});

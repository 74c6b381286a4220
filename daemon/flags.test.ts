import { describe, expect, it } from 'vitest';
import { helpText, parseFlags } from './flags.js';

const ok = (argv: string[], env: Record<string, string> = {}) => {
  const r = parseFlags(argv, env);
  if (!r.ok) throw new Error(r.error);
  return r.flags;
};
const err = (argv: string[], env: Record<string, string> = {}): string => {
  const r = parseFlags(argv, env);
  if (r.ok) throw new Error('expected an error');
  return r.error;
};

describe('flags', () => {
  it("has flanneld's defaults", () => {
    const f = ok([]);
    expect(f.etcdEndpoints).toEqual(['http://127.0.0.1:4001', 'http://127.0.0.1:2379']);
    expect(f.etcdPrefix).toBe('/coreos.com/network');
    expect(f.subnetFile).toBe('/run/flannel/subnet.env');
    expect(f.subnetLeaseRenewMargin).toBe(60);
    expect(f.ipMasq).toBe(false);
    expect(f.healthzIp).toBe('0.0.0.0');
    expect(f.healthzPort).toBe(0);
    expect(f.iptablesResync).toBe(5);
    expect(f.iptablesForwardRules).toBe(true);
    expect(f.iface).toEqual([]);
  });

  it('accepts Go flag syntax: -x and --x, =value or separate value, bare booleans', () => {
    const f = ok([
      '-etcd-prefix=/a',
      '--subnet-file',
      '/tmp/s.env',
      '-ip-masq',
      '--iptables-forward-rules=false',
      '-iface',
      'eth0',
      '--iface=10.0.0.1',
    ]);
    expect(f.etcdPrefix).toBe('/a');
    expect(f.subnetFile).toBe('/tmp/s.env');
    expect(f.ipMasq).toBe(true);
    expect(f.iptablesForwardRules).toBe(false);
    expect(f.iface).toEqual(['eth0', '10.0.0.1']);
  });

  it('reads FLANNELD_* only for flags not on the command line, ignoring empty values', () => {
    const env = {
      FLANNELD_ETCD_ENDPOINTS: 'http://10.9.9.9:2379',
      FLANNELD_IP_MASQ: 'true',
      FLANNELD_SUBNET_FILE: '',
      FLANNELD_HEALTHZ_PORT: '8081',
    };
    const f = ok(['--healthz-port=9000'], env);
    expect(f.etcdEndpoints).toEqual(['http://10.9.9.9:2379']);
    expect(f.ipMasq).toBe(true);
    expect(f.subnetFile).toBe('/run/flannel/subnet.env');
    expect(f.healthzPort).toBe(9000);
  });

  const bad: Array<[string[], Record<string, string>, RegExp]> = [
    [['--bogus'], {}, /^unknown flag -bogus; see overlayd --help/],
    [
      ['--subnet-lease-renew-margin=0'],
      {},
      /^--subnet-lease-renew-margin: 0 is out of range; expected whole minutes from 1 to 1439$/,
    ],
    [['--subnet-lease-renew-margin=1440'], {}, /--subnet-lease-renew-margin: 1440 is out of range/],
    [['--healthz-port=http'], {}, /^--healthz-port: invalid value "http"; expected a port/],
    [['--healthz-port=70000'], {}, /--healthz-port: 70000 is out of range/],
    [['--ip-masq=maybe'], {}, /^--ip-masq: invalid boolean "maybe"; expected true or false$/],
    [['--public-ip=10.0.0'], {}, /^--public-ip: invalid value "10.0.0"; expected an IPv4 address/],
    [['--healthz-ip=localhost'], {}, /^--healthz-ip: invalid value "localhost"/],
    [
      ['--public-ipv6=198.18.0.1'],
      {},
      /^--public-ipv6: invalid value "198.18.0.1"; expected an IPv6 address/,
    ],
    [['--public-ipv6=fd00::g'], {}, /^--public-ipv6: invalid value "fd00::g"; expected an IPv6 address/],
    [
      ['--iface-can-reach=eth0'],
      {},
      /^--iface-can-reach: invalid value "eth0"; expected an IPv4 or IPv6 address$/,
    ],
    [
      ['--etcd-endpoints=127.0.0.1:2379'],
      {},
      /^--etcd-endpoints: invalid endpoint "127.0.0.1:2379"; expected http/,
    ],
    [['--etcd-prefix=coreos'], {}, /^--etcd-prefix: invalid value "coreos"; expected an absolute key path/],
    [['--log-level=loud'], {}, /^--log-level: invalid value "loud"; expected one of fatal/],
    [['--iface-regex=(eth'], {}, /^--iface-regex: invalid regular expression/],
    [['--tun-name=a-very-long-tun-name'], {}, /^--tun-name: invalid value/],
    [['--udp-offloads=fast'], {}, /^--udp-offloads: invalid value "fast"; expected auto or off$/],
    [['--udp-workers=4'], {}, /^--udp-workers: invalid value "4"; expected 1 or 2$/],
    [['--udp-sg=on'], {}, /^--udp-sg: invalid value "on"; expected auto or off$/],
    [
      ['--vxlan-datapath=tun'],
      {},
      /^--vxlan-datapath: invalid value "tun"; expected kernel, userspace or auto$/,
    ],
    [
      ['--udp-queues=9'],
      {},
      /^--udp-queues: invalid value "9"; expected auto or a whole number from 1 to 8$/,
    ],
    [['--subnet-file'], {}, /^--subnet-file: flag needs a value/],
    [['stray'], {}, /^unexpected argument "stray"/],
    [
      [],
      { FLANNELD_IPTABLES_RESYNC: 'soon' },
      /^FLANNELD_IPTABLES_RESYNC: invalid value "soon"; expected whole seconds/,
    ],
  ];
  for (const [argv, env, message] of bad) {
    it(`rejects ${[...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}`, () => {
      const e = err(argv, env);
      expect(e).toMatch(message);
      expect(e).not.toContain('\n');
    });
  }

  it('puts the status endpoint on a root-only unix socket by default, overridable or off', () => {
    expect(ok([]).statusSocket).toBe('/run/flannel/overlayd.sock');
    expect(ok(['--status-socket=/tmp/x/overlayd.sock']).statusSocket).toBe('/tmp/x/overlayd.sock');
    expect(ok([], { FLANNELD_STATUS_SOCKET: '/var/run/o.sock' }).statusSocket).toBe('/var/run/o.sock');
    expect(ok(['--status-socket=']).statusSocket).toBe('');
    expect(err(['--status-socket=run/o.sock'])).toMatch(
      /^--status-socket: invalid value "run\/o.sock"; expected an absolute path/,
    );
    // sun_path holds 108 bytes including the terminating NUL.
    expect(err([`--status-socket=/${'a'.repeat(107)}`])).toMatch(/at most 107 characters/);
    expect(helpText('0.0.0')).toContain('--status-socket');
  });

  it('documents every flag in --help', () => {
    const text = helpText('0.0.0');
    for (const f of [
      '--etcd-endpoints',
      '--iface-regex',
      '--subnet-lease-renew-margin',
      '--healthz-port',
      '--log-level',
      '--version',
      '--net-config-path',
    ]) {
      expect(text).toContain(f);
    }
  });
});

describe('dual-stack flags', () => {
  it('takes --public-ipv6 and --iface-can-reach, also from FLANNELD_*', () => {
    const r = parseFlags(['--public-ipv6=fd00:198:18::1', '--iface-can-reach', 'fd00:198:18::2'], {});
    expect(r.ok && r.flags.publicIpv6).toBe('fd00:198:18::1');
    expect(r.ok && r.flags.ifaceCanReach).toBe('fd00:198:18::2');
    const e = parseFlags([], { FLANNELD_PUBLIC_IPV6: 'fd00::5', FLANNELD_IFACE_CAN_REACH: '198.18.0.9' });
    expect(e.ok && [e.flags.publicIpv6, e.flags.ifaceCanReach]).toEqual(['fd00::5', '198.18.0.9']);
    const d = parseFlags([], {});
    expect(d.ok && [d.flags.publicIpv6, d.flags.ifaceCanReach]).toEqual(['', '']);
  });
});

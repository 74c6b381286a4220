/** The parsers of tool output, against text captured from iputils ping 20221126, ethtool 6.1 and Linux 6.18. */
import { describe, expect, it } from 'vitest';
import { splitArgs } from './cli.js';
import { conciseEtcdError, parseEnvFile } from './gather-cluster.js';
import { countRules, featureState, udpCsumErrors } from './gather-host.js';
import { parsePing } from './probes.js';

const PING_OK = `PING 127.0.0.1 (127.0.0.1) 56(84) bytes of data.

--- 127.0.0.1 ping statistics ---
2 packets transmitted, 2 received, 0% packet loss, time 217ms
rtt min/avg/max/mdev = 0.026/0.030/0.034/0.004 ms
`;
const PING_LOST = `PING 10.244.2.0 (10.244.2.0) from 10.244.1.0 flannel.1: 56(84) bytes of data.

--- 10.244.2.0 ping statistics ---
3 packets transmitted, 0 received, 100% packet loss, time 405ms
`;
const PING_ERR = `--- 10.244.2.0 ping statistics ---
1 packets transmitted, 0 received, +1 errors, 100% packet loss, time 0ms
`;
const ETHTOOL = `Features for lo:
rx-checksumming: on [fixed]
tx-checksumming: on
\ttx-checksum-ipv4: off [fixed]
\ttx-checksum-ip-generic: on [fixed]
\ttx-checksum-ipv6: off [fixed]
`;
const SNMP = `Icmp: InMsgs InErrors InCsumErrors
Icmp: 4 0 0
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 1466 0 3 1466 0 0 7 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;

describe('tool output parsers', () => {
  it('reads ping -q summaries: received count and average RTT', () => {
    expect(parsePing(PING_OK)).toEqual({ ok: true, rttMs: 0.03 });
    expect(parsePing(PING_LOST)).toEqual({ ok: false });
    expect(parsePing(PING_ERR)).toEqual({ ok: false });
    expect(parsePing('')).toEqual({ ok: false });
  });

  it('reads one ethtool feature, [fixed] or not', () => {
    expect(featureState(ETHTOOL, 'tx-checksum-ip-generic')).toBe('on');
    expect(featureState(ETHTOOL, 'tx-checksum-ipv4')).toBe('off');
    expect(featureState(ETHTOOL, 'tx-udp-segmentation')).toBeUndefined();
  });

  it("reads Udp InCsumErrors, not Icmp's or UdpLite's", () => {
    expect(udpCsumErrors(SNMP)).toBe(7);
    expect(udpCsumErrors('Ip: Forwarding\nIp: 1\n')).toBeUndefined();
  });

  it('counts the rules of an iptables-save dump', () => {
    expect(countRules('*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j X\n-A X -j ACCEPT\nCOMMIT\n')).toBe(2);
  });

  it("shortens grpc's etcd errors to one line with the errno", () => {
    expect(
      conciseEtcdError(
        'etcd list /coreos.com/network/subnets/ failed: 14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ',
      ),
    ).toBe(
      'etcd list /coreos.com/network/subnets/ failed: 14 UNAVAILABLE: No connection established (ECONNREFUSED)',
    );
  });

  it('reads subnet.env as the CNI plugin does', () => {
    expect(parseEnvFile('FLANNEL_NETWORK=10.244.0.0/16\n# c\nexport FLANNEL_MTU="1450"\n\nbad\n')).toEqual({
      FLANNEL_NETWORK: '10.244.0.0/16',
      FLANNEL_MTU: '1450',
    });
  });

  it("takes the subcommand's own switches out and leaves the daemon's flags", () => {
    const r = splitArgs('diagnose', [
      '--json',
      '--etcd-endpoints=http://x:2379',
      '-no-probes',
      '--iface',
      'eth0',
    ]);
    expect([...r.own]).toEqual(['json', 'no-probes']);
    expect(r.rest).toEqual(['--etcd-endpoints=http://x:2379', '--iface', 'eth0']);
    expect([...splitArgs('status', ['--no-probes']).own]).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseCidr } from '../core/ipv4.js';
import { checkSaved, forwardRules, masqRules, renderRestore } from './iptables-rules.js';

const net = parseCidr('10.244.0.0/16')!;
const pod = parseCidr('10.244.3.0/24')!;

describe('traffic rules', () => {
  it("renders flannel's masquerade and forward chains for iptables-restore", () => {
    const text = renderRestore([masqRules(net, pod, true), forwardRules(net)], () => true);
    expect(text).toBe(
      [
        '*nat',
        ':FLANNEL-POSTRTG - [0:0]',
        '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.3.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.3.0/24 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
        'COMMIT',
        '*filter',
        ':FLANNEL-FWD - [0:0]',
        '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
        '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
        '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('omits --random-fully and the jump when asked', () => {
    const text = renderRestore([masqRules(net, pod, false)], () => false);
    expect(text).not.toContain('--random-fully');
    expect(text).not.toContain('-A POSTROUTING');
  });

  it('checks an iptables-save dump', () => {
    const s = forwardRules(net);
    const saved = [
      '*filter',
      ':FLANNEL-FWD - [0:0]',
      '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
    ].join('\n');
    expect(checkSaved(saved, s)).toEqual({ missing: 0, extra: 0, jump: true });
    expect(checkSaved(saved.replace(/.*-d 10.244.0.0\/16.*\n?/, ''), s)).toEqual({
      missing: 1,
      extra: 0,
      jump: true,
    });
    expect(checkSaved(saved.replace(/-A FORWARD.*\n/, ''), s).jump).toBe(false);
  });
});

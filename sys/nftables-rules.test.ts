import { describe, expect, it } from 'vitest';
import { parseCidr } from '../core/ipv4.js';
import { parseCidr6 } from '../core/ipv6.js';
import { nftRules4, nftRules6, renderNft } from './nftables-rules.js';

const o = { masq: true, forward: true, fullyRandom: true };

describe('nftables rules (EnableNFTables)', () => {
  it("renders flannel's tables in one transaction, with the iptables mode's verdicts", () => {
    const text = renderNft([
      nftRules4(parseCidr('10.244.0.0/16')!, parseCidr('10.244.3.0/24')!, o),
      nftRules6(parseCidr6('fd00:10:244::/56')!, parseCidr6('fd00:10:244:3::/64')!, o),
    ]);
    const lines = text.split('\n').map((l) => l.trim());
    expect(lines.slice(0, 3)).toEqual([
      'add table ip flannel-ipv4',
      'delete table ip flannel-ipv4',
      'table ip flannel-ipv4 {',
    ]);
    expect(lines).toContain('ip saddr != 10.244.0.0/16 ip daddr 10.244.3.0/24 return');
    expect(lines).toContain('ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random');
    expect(lines).toContain('ip6 saddr 10.244.0.0/16 accept'.replace('10.244.0.0/16', 'fd00:10:244::/56'));
    expect(lines).toContain('ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random');
    expect(lines).toContain(
      'ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade fully-random',
    );
    // the postrtg chain keeps the iptables mode's order of verdicts
    const post = lines.slice(lines.indexOf('chain postrtg {', lines.indexOf('table ip6 flannel-ipv6 {')));
    expect(post.slice(2, 8)).toEqual([
      'meta mark & 0x4000 == 0x4000 return',
      'ip6 saddr fd00:10:244:3::/64 ip6 daddr fd00:10:244::/56 return',
      'ip6 saddr fd00:10:244::/56 ip6 daddr fd00:10:244:3::/64 return',
      'ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:3::/64 return',
      'ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random',
      'ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade fully-random',
    ]);
  });

  it('leaves out the chains whose flag is off', () => {
    const t = renderNft([
      nftRules4(parseCidr('10.244.0.0/16')!, parseCidr('10.244.3.0/24')!, { ...o, masq: false }),
    ]);
    expect(t).toContain('chain forward');
    expect(t).not.toContain('chain postrtg');
    expect(t).not.toContain('masquerade');
  });
});

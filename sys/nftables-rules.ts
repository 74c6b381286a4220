/**
 * flannel's nftables mode (EnableNFTables, pkg/trafficmngr/nftables) as data: one table per
 * family, flannel-ipv4 (ip) and flannel-ipv6 (ip6), with a `forward` chain (filter hook, accept
 * traffic from and to the network) and a `postrtg` chain (nat postrouting) whose verdicts match the
 * iptables mode's FLANNEL-POSTRTG rule for rule. One difference from flannel's own nft rules: its
 * third return is `saddr != <subnet> daddr <Network>`, which stops the masquerade of traffic from
 * outside into the network; the iptables mode has `! -s <Network> -d <subnet>`, and that is the
 * behaviour kept here so both modes masquerade the same packets. Rendering is pure; nftables.ts
 * runs nft.
 */
import { formatCidr, type Ipv4Net } from '../core/ipv4.js';
import { formatCidr6, type Ipv6Net } from '../core/ipv6.js';

export interface NftFamilyRules {
  readonly family: 'ip' | 'ip6';
  readonly table: 'flannel-ipv4' | 'flannel-ipv6';
  readonly network: string;
  readonly subnet: string;
  readonly masq: boolean;
  readonly forward: boolean;
  readonly fullyRandom: boolean;
}

export function nftRules4(
  network: Ipv4Net,
  subnet: Ipv4Net,
  o: { masq: boolean; forward: boolean; fullyRandom: boolean },
): NftFamilyRules {
  return {
    family: 'ip',
    table: 'flannel-ipv4',
    network: formatCidr(network),
    subnet: formatCidr(subnet),
    ...o,
  };
}
export function nftRules6(
  network: Ipv6Net,
  subnet: Ipv6Net,
  o: { masq: boolean; forward: boolean; fullyRandom: boolean },
): NftFamilyRules {
  return {
    family: 'ip6',
    table: 'flannel-ipv6',
    network: formatCidr6(network),
    subnet: formatCidr6(subnet),
    ...o,
  };
}

/**
 * `nft -f` input that replaces the table in one transaction: add (so the delete cannot fail on a
 * first start), delete, and declare it with its chains. Either all of it applies or none.
 */
export function renderNft(sets: readonly NftFamilyRules[]): string {
  const out: string[] = [];
  for (const r of sets) {
    const a = r.family; // "ip" or "ip6": the address match keyword is the family name
    const n = r.network;
    const p = r.subnet;
    const multicast = r.family === 'ip' ? '224.0.0.0/4' : 'ff00::/8';
    const masq = `masquerade${r.fullyRandom ? ' fully-random' : ''}`;
    out.push(
      `add table ${r.family} ${r.table}`,
      `delete table ${r.family} ${r.table}`,
      `table ${r.family} ${r.table} {`,
    );
    if (r.forward) {
      out.push(
        '  chain forward {',
        '    type filter hook forward priority filter; policy accept;',
        `    ${a} saddr ${n} accept`,
        `    ${a} daddr ${n} accept`,
        '  }',
      );
    }
    if (r.masq) {
      out.push(
        '  chain postrtg {',
        '    type nat hook postrouting priority srcnat; policy accept;',
        '    meta mark & 0x4000 == 0x4000 return',
        `    ${a} saddr ${p} ${a} daddr ${n} return`,
        `    ${a} saddr ${n} ${a} daddr ${p} return`,
        `    ${a} saddr != ${n} ${a} daddr ${p} return`,
        `    ${a} saddr ${n} ${a} daddr != ${multicast} ${masq}`,
        `    ${a} saddr != ${n} ${a} daddr ${n} ${masq}`,
        '  }',
      );
    }
    out.push('}');
  }
  return out.join('\n') + '\n';
}

/** Input that removes both tables (switching to iptables mode); `add` first so a missing one is fine. */
export function renderNftCleanup(): string {
  return (
    [
      'add table ip flannel-ipv4',
      'delete table ip flannel-ipv4',
      'add table ip6 flannel-ipv6',
      'delete table ip6 flannel-ipv6',
    ].join('\n') + '\n'
  );
}

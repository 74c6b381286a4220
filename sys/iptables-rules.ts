/**
 * flanneld's iptables rules, as data (pkg/trafficmngr/iptables): the FLANNEL-POSTRTG masquerade
 * chain (nat, with --ip-masq) and the FLANNEL-FWD accept chain (filter, --iptables-forward-rules),
 * each reached by one jump from the built-in chain, every rule with flannel's comment. Rendering
 * to iptables-restore input and checking an iptables-save dump are pure; iptables.ts runs
 * the binaries.
 */
import { formatCidr, type Ipv4Net } from '../core/ipv4.js';
import { formatCidr6, type Ipv6Net } from '../core/ipv6.js';

export interface RuleSet {
  /** 4: iptables, 6: ip6tables (dual-stack: flannel writes the same chains with the v6 network). */
  readonly family?: 4 | 6;
  readonly table: 'nat' | 'filter';
  /** Our chain, flushed and refilled as a whole. */
  readonly chain: string;
  /** The built-in chain holding the jump to ours. */
  readonly hook: string;
  readonly jump: readonly string[];
  readonly rules: ReadonlyArray<readonly string[]>;
}

const MASQ_COMMENT = ['-m', 'comment', '--comment', '"flanneld masq"'];
const FWD_COMMENT = ['-m', 'comment', '--comment', '"flanneld forward"'];

export function masqRules(network: Ipv4Net, podCidr: Ipv4Net, fullyRandom: boolean): RuleSet {
  return masqRulesOf(4, formatCidr(network), formatCidr(podCidr), fullyRandom);
}

/** The ip6tables twin: the IPv6 network and subnet, and ff00::/8 as the multicast range. */
export function masqRules6(network: Ipv6Net, podCidr: Ipv6Net, fullyRandom: boolean): RuleSet {
  return masqRulesOf(6, formatCidr6(network), formatCidr6(podCidr), fullyRandom);
}

function masqRulesOf(family: 4 | 6, n: string, p: string, fullyRandom: boolean): RuleSet {
  const multicast = family === 4 ? '224.0.0.0/4' : 'ff00::/8';
  const masq = ['-j', 'MASQUERADE', ...(fullyRandom ? ['--random-fully'] : [])];
  return {
    family,
    table: 'nat',
    chain: 'FLANNEL-POSTRTG',
    hook: 'POSTROUTING',
    jump: [...MASQ_COMMENT, '-j', 'FLANNEL-POSTRTG'],
    rules: [
      // kube-proxy marks traffic it will masquerade itself
      ['-m', 'mark', '--mark', '0x4000/0x4000', ...MASQ_COMMENT, '-j', 'RETURN'],
      ['-s', p, '-d', n, ...MASQ_COMMENT, '-j', 'RETURN'],
      ['-s', n, '-d', p, ...MASQ_COMMENT, '-j', 'RETURN'],
      ['!', '-s', n, '-d', p, ...MASQ_COMMENT, '-j', 'RETURN'],
      ['-s', n, '!', '-d', multicast, ...MASQ_COMMENT, ...masq],
      ['!', '-s', n, '-d', n, ...MASQ_COMMENT, ...masq],
    ],
  };
}

export function forwardRules(network: Ipv4Net): RuleSet {
  return forwardRulesOf(4, formatCidr(network));
}

export function forwardRules6(network: Ipv6Net): RuleSet {
  return forwardRulesOf(6, formatCidr6(network));
}

function forwardRulesOf(family: 4 | 6, n: string): RuleSet {
  return {
    family,
    table: 'filter',
    chain: 'FLANNEL-FWD',
    hook: 'FORWARD',
    jump: [...FWD_COMMENT, '-j', 'FLANNEL-FWD'],
    rules: [
      ['-s', n, ...FWD_COMMENT, '-j', 'ACCEPT'],
      ['-d', n, ...FWD_COMMENT, '-j', 'ACCEPT'],
    ],
  };
}

/**
 * iptables-restore --noflush input that (re)creates our chain with exactly these rules. Declaring
 * a user chain in --noflush mode flushes it, so stale rules of an old network/subnet go with it.
 * The jump is added only when `needJump` (it is checked separately, so it is never duplicated).
 */
export function renderRestore(sets: readonly RuleSet[], needJump: (s: RuleSet) => boolean): string {
  const byTable = new Map<string, RuleSet[]>();
  for (const s of sets) byTable.set(s.table, [...(byTable.get(s.table) ?? []), s]);
  const lines: string[] = [];
  for (const [table, ts] of byTable) {
    lines.push(`*${table}`);
    for (const s of ts) lines.push(`:${s.chain} - [0:0]`);
    for (const s of ts) {
      for (const r of s.rules) lines.push(['-A', s.chain, ...r].join(' '));
      if (needJump(s)) lines.push(['-A', s.hook, ...s.jump].join(' '));
    }
    lines.push('COMMIT');
  }
  return lines.join('\n') + '\n';
}

/** The lines iptables-save prints for a rule (same normalisation as our rendering). */
export function ruleLine(chain: string, rule: readonly string[]): string {
  return ['-A', chain, ...rule].join(' ');
}

/** Compares an `iptables-save -t <table>` dump with the set: missing rules, extra rules, jump present. */
export function checkSaved(saved: string, s: RuleSet): { missing: number; extra: number; jump: boolean } {
  const lines = saved.split('\n').map((l) => l.trim());
  const ours = lines.filter((l) => l.startsWith(`-A ${s.chain} `));
  const want = s.rules.map((r) => normalise(ruleLine(s.chain, r)));
  const have = ours.map(normalise);
  const missing = want.filter((w, i) => have[i] !== w).length;
  return {
    missing,
    extra: Math.max(0, have.length - want.length),
    jump: lines.some((l) => normalise(l) === normalise(ruleLine(s.hook, s.jump))),
  };
}

/** iptables-save prints "/32"-less hosts and quotes comments; normalise both sides the same way. */
function normalise(line: string): string {
  return line.replace(/"/g, '').replace(/\s+/g, ' ').trim();
}

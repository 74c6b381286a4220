/**
 * flanneld's iptables rules, as data (pkg/trafficmngr/iptables): the FLANNEL-POSTRTG masquerade
 * chain (nat, with --ip-masq) and the FLANNEL-FWD accept chain (filter, --iptables-forward-rules),
 * each reached by one jump from the built-in chain, every rule with flannel's comment. Rendering
 * to iptables-restore input and checking an iptables-save dump are pure; iptables.ts runs
 * the binaries.
 */
import { formatCidr, type Ipv4Net } from '../core/ipv4.js';

export interface RuleSet {
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
  const n = formatCidr(network);
  const p = formatCidr(podCidr);
  const masq = ['-j', 'MASQUERADE', ...(fullyRandom ? ['--random-fully'] : [])];
  return {
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
      ['-s', n, '!', '-d', '224.0.0.0/4', ...MASQ_COMMENT, ...masq],
      ['!', '-s', n, '-d', n, ...MASQ_COMMENT, ...masq],
    ],
  };
}

export function forwardRules(network: Ipv4Net): RuleSet {
  const n = formatCidr(network);
  return {
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

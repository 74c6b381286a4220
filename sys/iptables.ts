/**
 * Applies and keeps flannel's iptables rules: iptables-restore --noflush --wait (atomic per
 * table), checked every --iptables-resync seconds against iptables-save and rebuilt when anything
 * is missing or extra. Runs the iptables binaries; the rules themselves are data (iptables-rules.ts).
 */
import type { Logger } from 'pino';
import { OverlaydError } from '../core/errors.js';
import { checkSaved, renderRestore, type RuleSet } from './iptables-rules.js';
import { RuleKeeper, type RuleDrift, type RuleWriter } from './rule-keeper.js';
import { runTool as run } from './run-tool.js';

/** Whether this iptables knows --random-fully (iptables ≥ 1.6.2). */
export async function supportsRandomFully(): Promise<boolean> {
  const r = await run('iptables', ['--version']);
  const m = /v(\d+)\.(\d+)\.(\d+)/.exec(r.stdout);
  if (!m) return false;
  const [maj, min, pat] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return maj > 1 || (maj === 1 && (min > 6 || (min === 6 && pat >= 2)));
}

export async function iptablesAvailable(): Promise<boolean> {
  return (await run('iptables-restore', ['--version'])).code === 0;
}

const binOf = (family: 4 | 6): string => (family === 4 ? 'iptables' : 'ip6tables');

/** Writes with one iptables-restore per family; reads back with iptables-save per table. */
class IptablesWriter implements RuleWriter<RuleSet> {
  readonly name = 'iptables';

  /** One atomic iptables-restore per family: iptables for IPv4 sets, ip6tables for IPv6 ones. */
  async install(all: readonly RuleSet[]): Promise<void> {
    const jumps = new Map<RuleSet, boolean>();
    for (const s of all) jumps.set(s, !(await this.savedCheck(s)).jump);
    for (const family of [4, 6] as const) {
      const sets = all.filter((s) => (s.family ?? 4) === family);
      if (sets.length === 0) continue;
      const input = renderRestore(sets, (s) => jumps.get(s) === true);
      const bin = `${binOf(family)}-restore`;
      const r = await run(bin, ['--noflush', '--wait'], input);
      if (r.code !== 0) throw new OverlaydError('IPTABLES', `${bin} failed (${r.code}): ${r.stderr.trim()}`);
    }
  }

  /** Any rule or jump missing, or an extra rule crept in. */
  async drift(sets: readonly RuleSet[]): Promise<RuleDrift | undefined> {
    for (const s of sets) {
      const c = await this.savedCheck(s);
      if (c.missing || c.extra || !c.jump)
        return {
          fields: { table: s.table, chain: s.chain, ...c },
          message: 'iptables rules drifted; rebuilding them',
        };
    }
    return undefined;
  }

  private async savedCheck(s: RuleSet): Promise<{ missing: number; extra: number; jump: boolean }> {
    const bin = `${binOf(s.family ?? 4)}-save`;
    const r = await run(bin, ['-t', s.table]);
    if (r.code !== 0) throw new OverlaydError('IPTABLES', `${bin} -t ${s.table} failed: ${r.stderr.trim()}`);
    return checkSaved(r.stdout, s);
  }
}

/** flannel's iptables rules, kept installed (rule-keeper.ts has the loop). */
export class IptablesKeeper extends RuleKeeper<RuleSet> {
  constructor(log: Logger, resyncSeconds: number, onResync: () => void) {
    super(log, resyncSeconds, onResync, new IptablesWriter());
  }
}

/**
 * Removes flannel's iptables chains and their jumps in both families (switching to nftables
 * mode, as flannel cleans up the unused mode at start). Missing chains or binaries are fine.
 */
export async function removeIptablesChains(): Promise<void> {
  for (const bin of ['iptables', 'ip6tables']) {
    if ((await run(bin, ['--version'])).code !== 0) continue;
    for (const [table, hook, chain, comment] of [
      ['nat', 'POSTROUTING', 'FLANNEL-POSTRTG', 'flanneld masq'],
      ['filter', 'FORWARD', 'FLANNEL-FWD', 'flanneld forward'],
    ] as const) {
      const jump = ['-t', table, '-D', hook, '-m', 'comment', '--comment', comment, '-j', chain, '--wait'];
      // A jump added twice by hand is removed twice; stop at the first "no such rule".
      for (let i = 0; i < 8 && (await run(bin, jump)).code === 0; i++);
      await run(bin, ['-t', table, '-F', chain, '--wait']);
      await run(bin, ['-t', table, '-X', chain, '--wait']);
    }
  }
}

/**
 * Applies and keeps flannel's iptables rules: iptables-restore --noflush --wait (atomic per
 * table), checked every --iptables-resync seconds against iptables-save and rebuilt when anything
 * is missing or extra. Runs the iptables binaries; the rules themselves are data (iptables-rules.ts).
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { OverlaydError, describeError } from '../core/errors.js';
import { checkSaved, renderRestore, type RuleSet } from './iptables-rules.js';

function run(
  cmd: string,
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 127
        : 0;
      resolve({
        code,
        stdout: String(stdout),
        stderr:
          String(stderr) ||
          (err && !(typeof (err as { code?: unknown }).code === 'number') ? err.message : ''),
      });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

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

export class IptablesKeeper {
  private timer: NodeJS.Timeout | undefined;
  private sets: readonly RuleSet[] = [];
  private applying: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly resyncSeconds: number,
    private readonly onResync: () => void,
  ) {}

  /** Installs `sets` now (replacing whatever our chains held) and keeps them installed. */
  async apply(sets: readonly RuleSet[]): Promise<void> {
    this.sets = sets;
    await this.install();
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), this.resyncSeconds * 1000);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One atomic iptables-restore per family: iptables for IPv4 sets, ip6tables for IPv6 ones. */
  private async install(): Promise<void> {
    const jumps = new Map<RuleSet, boolean>();
    for (const s of this.sets) jumps.set(s, !(await this.savedCheck(s)).jump);
    for (const family of [4, 6] as const) {
      const sets = this.sets.filter((s) => (s.family ?? 4) === family);
      if (sets.length === 0) continue;
      const input = renderRestore(sets, (s) => jumps.get(s) === true);
      const bin = `${binOf(family)}-restore`;
      const r = await run(bin, ['--noflush', '--wait'], input);
      if (r.code !== 0) throw new OverlaydError('IPTABLES', `${bin} failed (${r.code}): ${r.stderr.trim()}`);
    }
  }

  private async savedCheck(s: RuleSet): Promise<{ missing: number; extra: number; jump: boolean }> {
    const bin = `${binOf(s.family ?? 4)}-save`;
    const r = await run(bin, ['-t', s.table]);
    if (r.code !== 0) throw new OverlaydError('IPTABLES', `${bin} -t ${s.table} failed: ${r.stderr.trim()}`);
    return checkSaved(r.stdout, s);
  }

  /** The resync: rebuild when any rule or jump is missing or an extra rule crept in. */
  async check(): Promise<void> {
    if (this.applying) return;
    this.applying = (async () => {
      try {
        for (const s of this.sets) {
          const c = await this.savedCheck(s);
          if (c.missing || c.extra || !c.jump) {
            this.log.warn(
              { table: s.table, chain: s.chain, ...c },
              'iptables rules drifted; rebuilding them',
            );
            this.onResync();
            await this.install();
            return;
          }
        }
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'iptables resync failed');
      } finally {
        this.applying = undefined;
      }
    })();
    await this.applying;
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

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

  private async install(): Promise<void> {
    const jumps = new Map<RuleSet, boolean>();
    for (const s of this.sets) jumps.set(s, !(await this.savedCheck(s)).jump);
    const input = renderRestore(this.sets, (s) => jumps.get(s) === true);
    const r = await run('iptables-restore', ['--noflush', '--wait'], input);
    if (r.code !== 0)
      throw new OverlaydError('IPTABLES', `iptables-restore failed (${r.code}): ${r.stderr.trim()}`);
  }

  private async savedCheck(s: RuleSet): Promise<{ missing: number; extra: number; jump: boolean }> {
    const r = await run('iptables-save', ['-t', s.table]);
    if (r.code !== 0)
      throw new OverlaydError('IPTABLES', `iptables-save -t ${s.table} failed: ${r.stderr.trim()}`);
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

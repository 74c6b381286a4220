/**
 * One diagnosis: a named check with a verdict, one line of evidence (what was seen) and one line of
 * fix (a command or a setting). Checks are built by pure evaluators from gathered facts.
 */
export type Verdict = 'ok' | 'warn' | 'fail';

export type CheckGroup = 'config' | 'lease' | 'kernel' | 'host' | 'mtu' | 'peer' | 'daemon';

export interface Check {
  /** Stable id for scripts and --json consumers, e.g. "host.ip_forward" or "peer.10.244.2.0/24". */
  readonly id: string;
  readonly group: CheckGroup;
  readonly verdict: Verdict;
  /** What was checked, in words ("rp_filter on flannel.1"). */
  readonly title: string;
  /** One line: what was seen. */
  readonly evidence: string;
  /** One line: a command or setting that repairs it ('' for ok checks with nothing to do). */
  readonly fix: string;
}

export const ok = (group: CheckGroup, id: string, title: string, evidence: string, fix = ''): Check => ({
  id,
  group,
  verdict: 'ok',
  title,
  evidence,
  fix,
});
export const warn = (group: CheckGroup, id: string, title: string, evidence: string, fix: string): Check => ({
  id,
  group,
  verdict: 'warn',
  title,
  evidence,
  fix,
});
export const fail = (group: CheckGroup, id: string, title: string, evidence: string, fix: string): Check => ({
  id,
  group,
  verdict: 'fail',
  title,
  evidence,
  fix,
});

const RANK: Record<Verdict, number> = { fail: 0, warn: 1, ok: 2 };

/** Failures first, then warnings, then the rest; stable within a verdict (gathering order). */
export function sortChecks(checks: readonly Check[]): Check[] {
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => RANK[a.c.verdict] - RANK[b.c.verdict] || a.i - b.i)
    .map((x) => x.c);
}

/** diagnose's exit code: 1 when anything failed; warnings alone still exit 0. */
export const exitCodeOf = (checks: readonly Check[]): number =>
  checks.some((c) => c.verdict === 'fail') ? 1 : 0;

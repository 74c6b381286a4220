/**
 * diagnose's output: a table with the failures first (verdict, check, evidence) and under each
 * non-ok row its fix, then a one-line summary; or the same checks as JSON. Pure.
 */
import { exitCodeOf, sortChecks, type Check } from './check.js';

const MARK = { fail: 'FAIL', warn: 'WARN', ok: 'ok' } as const;

/** Wraps `text` to `width` columns, continuation lines indented by `indent`. */
function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i === 0 ? l : ' '.repeat(indent) + l));
}

export interface ReportHeader {
  readonly node: string;
  readonly backend?: string;
  readonly subnet?: string;
  /** Repairs diagnose was asked to make before checking (--fix-checksum-offload), as done. */
  readonly actions?: readonly string[];
}

export function renderTable(
  checks: readonly Check[],
  header: ReportHeader,
  width = 100,
  exitCode: number = exitCodeOf(checks),
): string {
  const sorted = sortChecks(checks);
  const titleW = Math.min(44, Math.max(5, ...sorted.map((c) => c.title.length)));
  const pre = 6 + titleW + 2;
  const out: string[] = [
    `overlayd diagnose: ${header.node}${header.backend ? `, backend ${header.backend}` : ''}${header.subnet ? `, subnet ${header.subnet}` : ''}`,
    '',
    `${'STATE'.padEnd(6)}${'CHECK'.padEnd(titleW + 2)}EVIDENCE`,
  ];
  for (const c of sorted) {
    const title = c.title.length > titleW ? c.title.slice(0, titleW - 1) + '…' : c.title;
    const ev = wrap(c.evidence, Math.max(30, width - pre), pre);
    out.push(`${MARK[c.verdict].padEnd(6)}${title.padEnd(titleW + 2)}${ev.join('\n')}`);
    if (c.verdict !== 'ok' && c.fix)
      out.push(
        ...wrap(`fix: ${c.fix}`, Math.max(30, width - pre), pre).map((l, i) =>
          i === 0 ? ' '.repeat(pre) + l : l,
        ),
      );
  }
  const n = (v: Check['verdict']): number => checks.filter((c) => c.verdict === v).length;
  out.push('', `${n('fail')} failed, ${n('warn')} warning(s), ${n('ok')} ok → exit ${exitCode}`);
  return out.join('\n') + '\n';
}

export function renderJson(
  checks: readonly Check[],
  header: ReportHeader,
  exitCode: number = exitCodeOf(checks),
): string {
  return (
    JSON.stringify(
      {
        ...header,
        exitCode,
        summary: {
          fail: checks.filter((c) => c.verdict === 'fail').length,
          warn: checks.filter((c) => c.verdict === 'warn').length,
          ok: checks.filter((c) => c.verdict === 'ok').length,
        },
        checks: sortChecks(checks),
      },
      null,
      2,
    ) + '\n'
  );
}

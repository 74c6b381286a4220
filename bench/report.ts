/** The bench's outputs: a terminal table with ratios, a JSON document, and an SVG bar chart. */
import type { BenchBackend } from './scenarios.js';

export interface BenchRow {
  readonly backend: BenchBackend;
  readonly description: string;
  /** Medians over the repeats. */
  readonly gbps1: number;
  readonly gbps4: number;
  readonly rttP50Ms: number;
  readonly rttP99Ms: number;
  /** overlayd CPU seconds (both nodes) per GB moved; null for baselines. */
  readonly cpuSecPerGB: number | null;
  /** Peak RSS of one overlayd process during the runs, MB; null for baselines. */
  readonly rssMB: number | null;
  readonly runs: { readonly gbps1: number[]; readonly gbps4: number[] };
}

export interface BenchReport {
  readonly schema: 'overlayd-bench-throughput/1';
  readonly date: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly kernel: string;
    readonly node: string;
  };
  readonly durationS: number;
  readonly repeat: number;
  readonly rows: BenchRow[];
  /** gbps1 of each backend divided by kernel-vxlan's and veth's (when measured). */
  readonly ratios: Record<string, { vsKernelVxlan: number | null; vsVeth: number | null }>;
}

const f = (v: number | null, d = 2): string => (v === null || Number.isNaN(v) ? '–' : v.toFixed(d));

export function ratiosOf(rows: readonly BenchRow[]): BenchReport['ratios'] {
  const base = (name: BenchBackend) => rows.find((r) => r.backend === name)?.gbps1;
  const kv = base('kernel-vxlan');
  const veth = base('veth');
  return Object.fromEntries(
    rows.map((r) => [
      r.backend,
      { vsKernelVxlan: kv ? r.gbps1 / kv : null, vsVeth: veth ? r.gbps1 / veth : null },
    ]),
  );
}

export function renderTable(report: BenchReport): string {
  const head = [
    'backend',
    'TCP 1 stream Gbit/s',
    'TCP 4 streams Gbit/s',
    'RTT p50 ms',
    'RTT p99 ms',
    'CPU s/GB',
    'RSS MB',
    '× kernel-vxlan',
    '× veth',
  ];
  const rows = report.rows.map((r) => [
    r.backend,
    f(r.gbps1),
    f(r.gbps4),
    f(r.rttP50Ms, 3),
    f(r.rttP99Ms, 3),
    f(r.cpuSecPerGB),
    f(r.rssMB, 0),
    f(report.ratios[r.backend]?.vsKernelVxlan ?? null),
    f(report.ratios[r.backend]?.vsVeth ?? null),
  ]);
  const lines = [head, ...rows].map((cols) => `| ${cols.join(' | ')} |`);
  lines.splice(1, 0, `|${head.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

/** A grouped bar chart (1 and 4 streams per backend) someone would paste into a design doc. */
export function renderSvg(report: BenchReport): string {
  const rows = report.rows;
  const max = Math.max(1, ...rows.flatMap((r) => [r.gbps1, r.gbps4]));
  const W = 760;
  const rowH = 34;
  const left = 120;
  const H = 70 + rows.length * rowH + 30;
  const scale = (v: number) => ((W - left - 80) * v) / max;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">overlayd: pod-to-pod TCP throughput (iperf3, Gbit/s, median of ${report.repeat})</text>`,
    `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(`${report.machine.cpus} vCPU ${report.machine.cpuModel}, Linux ${report.machine.kernel}, ${report.date.slice(0, 10)}`)}</text>`,
    `<rect x="${left}" y="48" width="12" height="10" fill="#3b6ea5"/><text x="${left + 16}" y="57">1 stream</text>`,
    `<rect x="${left + 90}" y="48" width="12" height="10" fill="#9cc3e6"/><text x="${left + 106}" y="57">4 streams</text>`,
  ];
  rows.forEach((r, i) => {
    const y = 70 + i * rowH;
    parts.push(`<text x="${left - 8}" y="${y + 15}" text-anchor="end">${esc(r.backend)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${scale(r.gbps1).toFixed(1)}" height="12" fill="#3b6ea5"/>`,
    );
    parts.push(`<text x="${left + scale(r.gbps1) + 4}" y="${y + 10}">${f(r.gbps1)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y + 14}" width="${scale(r.gbps4).toFixed(1)}" height="12" fill="#9cc3e6"/>`,
    );
    parts.push(`<text x="${left + scale(r.gbps4) + 4}" y="${y + 24}">${f(r.gbps4)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** Checks a parsed JSON document against the report's shape; returns the problems found. */
export function validateReport(doc: unknown): string[] {
  const errs: string[] = [];
  const d = doc as Partial<BenchReport>;
  if (d?.schema !== 'overlayd-bench-throughput/1') errs.push('schema');
  if (typeof d?.date !== 'string' || Number.isNaN(Date.parse(d.date))) errs.push('date');
  if (typeof d?.machine?.cpus !== 'number' || typeof d.machine.kernel !== 'string') errs.push('machine');
  if (typeof d?.durationS !== 'number' || typeof d?.repeat !== 'number') errs.push('durationS/repeat');
  if (!Array.isArray(d?.rows) || d.rows.length === 0) errs.push('rows');
  for (const [i, r] of (d?.rows ?? []).entries()) {
    for (const k of ['gbps1', 'gbps4', 'rttP50Ms', 'rttP99Ms'] as const) {
      if (typeof r[k] !== 'number' || !(r[k] > 0)) errs.push(`rows[${i}].${k} must be a positive number`);
    }
    for (const k of ['cpuSecPerGB', 'rssMB'] as const)
      if (r[k] !== null && typeof r[k] !== 'number') errs.push(`rows[${i}].${k}`);
    if (typeof r.backend !== 'string') errs.push(`rows[${i}].backend`);
    if (!Array.isArray(r.runs?.gbps1) || !Array.isArray(r.runs?.gbps4)) errs.push(`rows[${i}].runs`);
  }
  if (typeof d?.ratios !== 'object' || d.ratios === null) errs.push('ratios');
  return errs;
}

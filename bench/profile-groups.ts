/**
 * The pure half of bench/profile: parses `perf report --stdio --no-children --sort comm,dso,sym
 * -g none` and puts each symbol in one of five groups, so a profile reads as "how much is the
 * kernel copying bytes, how much is the rest of the kernel, how much is JS, how much is native
 * code (node's C++, libc, the addon, iperf3), how much is idle".
 */

export const GROUPS = ['kernel copy', 'kernel other', 'JS', 'native', 'idle'] as const;
export type Group = (typeof GROUPS)[number];

export interface SymbolShare {
  /** Share of all samples, in percent. */
  readonly percent: number;
  /** Thread id (with --sort pid), else 0. */
  readonly tid: number;
  readonly comm: string;
  readonly dso: string;
  /** perf's [k] (kernel) or [.] (user) mark. */
  readonly kernel: boolean;
  readonly sym: string;
}

// "    12.34%  [tid:]comm with spaces  dso  [k] symbol": columns are separated by two or more spaces.
// perf names JIT code's object "[JIT] tid N", the one shared object with spaces.
const LINE = /^\s*([\d.]+)%\s+(?:(\d+):)?(.+?)\s{2,}(\[JIT\] tid \d+|\S+)\s+\[([k.gHu])\]\s+(.*?)\s*$/;

export function parseReport(text: string): SymbolShare[] {
  const rows: SymbolShare[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = LINE.exec(line);
    if (!m) continue;
    rows.push({
      percent: Number(m[1]),
      tid: m[2] ? Number(m[2]) : 0,
      comm: m[3]!.trim(),
      dso: m[4]!,
      kernel: m[5] === 'k',
      sym: m[6]!,
    });
  }
  return rows;
}

/** The CPU halted or polling for work. (Softirq work on an idle CPU runs as "swapper" too, so the comm does not tell.) */
const IDLE =
  /safe_halt|default_idle|cpuidle|poll_idle|mwait|acpi_idle|intel_idle|do_idle|cpu_idle|native_halt/;
/** Moving bytes between user memory and kernel buffers, or within the kernel. */
const KERNEL_COPY =
  /copy_user|copy_to_user|copy_from_user|copy_to_iter|copy_from_iter|copyin|copyout|memcpy|memmove|rep_movs|copy_page|csum_partial_copy/;
/** V8's JIT code (named through --perf-basic-prof) and its builtins, which run JS semantics. */
const JS_DSO = /perf-\d+\.map|\[JIT\]/;
const JS_SYM =
  /^(Builtins?_|JS:|LazyCompile:|Function:|InterpretedFunction:|Script:|BytecodeHandler:|RegExp:|Builtin:)/;

export function groupOf(r: SymbolShare): Group {
  if (IDLE.test(r.sym)) return 'idle';
  if (r.kernel) return KERNEL_COPY.test(r.sym) ? 'kernel copy' : 'kernel other';
  if (JS_DSO.test(r.dso) || JS_SYM.test(r.sym)) return 'JS';
  return 'native';
}

/**
 * Whose time a sample is: overlayd's threads, the traffic around it (iperf3, and the kernel's own
 * threads that run network softirqs and idle), or another process on a shared machine.
 */
export type Scope = 'overlayd' | 'traffic' | 'other';
const TRAFFIC_COMM = /^(iperf3|swapper|ksoftirqd|kworker|ping|forwarder)/;

export function scopeOf(r: SymbolShare, overlaydTids: ReadonlySet<number>): Scope {
  if (overlaydTids.has(r.tid)) return 'overlayd';
  return TRAFFIC_COMM.test(r.comm) ? 'traffic' : 'other';
}

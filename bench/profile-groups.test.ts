import { describe, expect, it } from 'vitest';
import { groupOf, parseReport, scopeOf } from './profile-groups.js';

// Lines as perf 6.x prints them with --sort comm,dso,sym -g none.
const REPORT = `# Samples: 40K of event 'cpu-clock:ppp'
# Overhead  Command          Shared Object          Symbol
# ........  ...............  .....................  ...............................
#
    21.50%  swapper          [kernel.kallsyms]      [k] pv_native_safe_halt
     9.25%  node             [kernel.kallsyms]      [k] copy_user_generic_string
     4.10%  iperf3           [kernel.kallsyms]      [k] _copy_from_iter
     3.00%  swapper          [kernel.kallsyms]      [k] __netif_receive_skb_core
     2.75%  V8 DefaultWorke  perf-4242.map          [.] JS:*forward file:///x/tx-engine.js:170:10
     1.50%  node             node                   [.] Builtins_TypedArrayPrototypeSubArray
     1.25%  node             node                   [.] v8::internal::relaxed_memmove
     0.50%  node             overlayd_sys.node      [.] csum_chunks
     0.25%  node             libc.so.6              [.] __memmove_avx_unaligned_erms
`;

describe('perf report grouping', () => {
  it('parses every sample line, spaces in the command included', () => {
    const rows = parseReport(REPORT);
    expect(rows).toHaveLength(9);
    expect(rows[4]).toEqual({
      percent: 2.75,
      tid: 0,
      comm: 'V8 DefaultWorke',
      dso: 'perf-4242.map',
      kernel: false,
      sym: 'JS:*forward file:///x/tx-engine.js:170:10',
    });
  });

  it('puts halts in idle, kernel copies apart from the rest of the kernel, JIT code and builtins in JS', () => {
    expect(parseReport(REPORT).map(groupOf)).toEqual([
      'idle',
      'kernel copy',
      'kernel copy',
      'kernel other',
      'JS',
      'JS',
      'native',
      'native',
      'native',
    ]);
  });

  it('reads thread ids (--sort pid) and tells overlayd, its traffic and other processes apart', () => {
    const rows = parseReport(`     3.00%    4243:node             [kernel.kallsyms]  [k] _copy_to_iter
     2.00%       0:swapper          [kernel.kallsyms]  [k] __netif_receive_skb_core
     1.00%    9999:node             node               [.] Builtins_LoadIC
     0.50%    4242:node             [JIT] tid 4242     [.] JS:*forward file:///x/tx-engine.js:170:10
`);
    expect(rows.map((r) => [r.tid, r.comm])).toEqual([
      [4243, 'node'],
      [0, 'swapper'],
      [9999, 'node'],
      [4242, 'node'],
    ]);
    expect(rows.map((r) => scopeOf(r, new Set([4242, 4243])))).toEqual([
      'overlayd',
      'traffic',
      'other',
      'overlayd',
    ]);
    expect(groupOf(rows[3]!)).toBe('JS');
    expect(rows[3]!.dso).toBe('[JIT] tid 4242');
  });
});

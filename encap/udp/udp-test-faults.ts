/**
 * TEST-ONLY fault injection for the udp datapath, for the end-to-end tests of its repair
 * (test/datapath-failure.e2e.ts). Off unless OVERLAYD_TEST_FAULT is set; never set it in production.
 *
 *   OVERLAYD_TEST_FAULT=<fault>[:always]   fault: worker-throw | worker-exit | worker-stuck | socket-error
 *
 * Nothing happens at start: the fault is injected into the first datapath worker when the process
 * receives SIGUSR2, so a test can first see traffic flow. With `:always`, every worker started
 * after that (each repair) fails the same way at once: the repair budget runs out and the daemon
 * must exit non-zero.
 */
import type { TestFault } from './datapath-worker.js';

const FAULTS: readonly TestFault[] = ['worker-throw', 'worker-exit', 'worker-stuck', 'socket-error'];

export interface TestFaultPlan {
  readonly fault: TestFault;
  readonly always: boolean;
}

/** The plan in `value`, undefined when unset; a clear error for a value it does not know. */
export function parseTestFault(value: string | undefined): TestFaultPlan | undefined {
  if (value === undefined || value === '') return undefined;
  const [fault, mode, ...rest] = value.split(':');
  if (!FAULTS.includes(fault as TestFault) || (mode !== undefined && mode !== 'always') || rest.length)
    throw new Error(
      `OVERLAYD_TEST_FAULT=${value}: expected one of ${FAULTS.join(', ')}, optionally with ":always" (test-only; unset it)`,
    );
  return { fault: fault as TestFault, always: mode === 'always' };
}

/** Arms the plan: `inject` runs at each SIGUSR2. Returns the disarm function. */
export function armTestFault(plan: TestFaultPlan, inject: (p: TestFaultPlan) => void): () => void {
  const onSignal = (): void => inject(plan);
  process.on('SIGUSR2', onSignal);
  return () => process.off('SIGUSR2', onSignal);
}

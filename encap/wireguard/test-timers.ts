/**
 * OVERLAYD_TEST_WG_TIMERS: test-only overrides of WireGuard's timer constants, so an e2e test can
 * see a rekey in seconds instead of two minutes. JSON object of seconds, keys from TIMER_KEYS
 * (the WireGuard paper §6 names, protocol/peer-timers.ts WgTimerConstants without the Ms; the
 * values above are the defaults). Anything malformed is refused with one
 * line: a test that thinks it shortened a timer and did not would wait for nothing.
 */
import { OverlaydError } from '../../core/errors.js';

export const TIMER_KEYS = {
  rekeyAfterTime: 120,
  rejectAfterTime: 180,
  rekeyAttemptTime: 90,
  rekeyTimeout: 5,
  keepaliveTimeout: 10,
  rekeyJitter: 0.333,
} as const;
export type TimerKey = keyof typeof TIMER_KEYS;

export function parseTestTimers(
  raw: string | undefined,
): Readonly<Partial<Record<TimerKey, number>>> | undefined {
  if (raw === undefined || raw === '') return undefined;
  const fail = (why: string): OverlaydError =>
    new OverlaydError(
      'BAD_CONFIG',
      `OVERLAYD_TEST_WG_TIMERS ${why}; use a JSON object of seconds with keys ${Object.keys(TIMER_KEYS).join(', ')}, e.g. {"rekeyAfterTime":10}`,
    );
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw fail('is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw fail('is not a JSON object');
  const out: Partial<Record<TimerKey, number>> = {};
  for (const [k, s] of Object.entries(v)) {
    if (!(k in TIMER_KEYS)) throw fail(`has an unknown key ${JSON.stringify(k)}`);
    if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0 || s > 3600)
      throw fail(`has ${k}=${JSON.stringify(s)}, not a number of seconds in (0, 3600]`);
    out[k as TimerKey] = s;
  }
  return out;
}

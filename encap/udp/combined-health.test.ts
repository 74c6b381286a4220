/** A dual-stack backend's two engines report one health: the worse, and every new fault with its reason. */
import { describe, expect, it } from 'vitest';
import type { BackendContext, BackendHealth } from '../backend.js';
import { combinedHealthContexts } from './combined-health.js';

describe('combinedHealthContexts', () => {
  it('reports the worse of the two engines, and a new fault even when the other is worse', () => {
    const seen: BackendHealth[] = [];
    const [v4, v6] = combinedHealthContexts({
      reportHealth: (h: BackendHealth) => seen.push(h),
    } as unknown as BackendContext);
    v6.reportHealth({ state: 'down', text: 'v6 down', fault: 'tun_deleted' });
    v4.reportHealth({ state: 'up' }); // v4 fine: v6 still down
    v4.reportHealth({ state: 'failed', text: 'v4 failed' });
    v6.reportHealth({ state: 'down', text: 'v6 again', fault: 'socket_error' }); // new fault: told as is
    v6.reportHealth({ state: 'up' }); // v4 still failed
    v4.reportHealth({ state: 'up' });
    expect(seen.map((h) => ('text' in h ? h.text : h.state))).toEqual([
      'v6 down',
      'v6 down',
      'v4 failed',
      'v6 again',
      'v4 failed',
      'up',
    ]);
  });
});

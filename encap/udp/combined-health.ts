/**
 * The health a backend of two engines (a dual-stack node's IPv4 and IPv6 datapaths) reports: the
 * worse of the two, and a new fault with its reason even when the other engine is worse off.
 */
import type { BackendContext, BackendHealth } from '../backend.js';

const rank = (h: BackendHealth): number => (h.state === 'up' ? 0 : h.state === 'down' ? 1 : 2);

/** Each engine's context (index 0: IPv4, 1: IPv6): its reports combined with the other's. */
export function combinedHealthContexts(ctx: BackendContext): [BackendContext, BackendContext] {
  const last: BackendHealth[] = [{ state: 'up' }, { state: 'up' }];
  const of = (i: number): BackendContext => ({
    ...ctx,
    reportHealth: (h) => {
      last[i] = h;
      const worst = rank(last[0]!) >= rank(last[1]!) ? last[0]! : last[1]!;
      ctx.reportHealth(h.state !== 'up' && h.fault ? h : worst);
    },
  });
  return [of(0), of(1)];
}

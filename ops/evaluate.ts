/** All evaluators over one set of facts, in the order a person would walk the path. Pure. */
import type { Check } from './check.js';
import { checkConfig, checkDaemon } from './checks-config.js';
import { checkHost } from './checks-host.js';
import { checkKernel } from './checks-kernel.js';
import { checkMtu } from './checks-mtu.js';
import { checkPeers } from './checks-peers.js';
import { buildContext } from './context.js';
import type { Facts } from './facts.js';

export function evaluate(f: Facts): Check[] {
  const ctx = buildContext(f);
  const config = checkConfig(f, ctx);
  if (f.cluster.etcdError || !f.cluster.config) return [...checkDaemon(f), ...config, ...checkHost(f, ctx)];
  const kernel = checkKernel(f, ctx);
  return [
    ...checkDaemon(f),
    ...config,
    ...kernel,
    ...checkMtu(f, ctx),
    ...checkHost(f, ctx),
    ...checkPeers(f, ctx, kernel),
  ];
}

/**
 * --ip-masq and --iptables-forward-rules: flannel's chains for this network and lease, applied
 * atomically and kept in place by an IptablesKeeper (created on first use, re-applied when the
 * lease moves). A missing iptables is fatal only with --ip-masq.
 */
import type { Logger } from 'pino';
import { IptablesKeeper, iptablesAvailable, supportsRandomFully } from '../sys/iptables.js';
import { forwardRules, masqRules } from '../sys/iptables-rules.js';
import type { Lease } from '../core/lease.js';
import type { NetworkConfig } from '../core/network.js';
import { OverlaydError } from '../core/errors.js';
import type { Flags } from './flags.js';

export async function applyTrafficRules(
  flags: Pick<Flags, 'ipMasq' | 'iptablesForwardRules' | 'ipMasqFullyRandomDisable' | 'iptablesResync'>,
  config: NetworkConfig,
  lease: Lease,
  keeper: IptablesKeeper | undefined,
  ctx: { log: Logger; iptablesLog: Logger; onResync: () => void },
): Promise<IptablesKeeper | undefined> {
  if (!flags.ipMasq && !flags.iptablesForwardRules) return keeper;
  if (config.enableNFTables)
    ctx.log.warn('EnableNFTables is not supported by overlayd yet; using iptables rules');
  if (!(await iptablesAvailable())) {
    if (flags.ipMasq) {
      throw new OverlaydError(
        'IPTABLES',
        '--ip-masq needs iptables-restore, which is not installed; install the iptables package or drop --ip-masq',
      );
    }
    ctx.log.warn('iptables is not installed: skipping the FORWARD accept rules (--iptables-forward-rules)');
    return keeper;
  }
  const sets = [
    ...(flags.ipMasq
      ? [
          masqRules(
            config.network,
            lease.subnet,
            !flags.ipMasqFullyRandomDisable && (await supportsRandomFully()),
          ),
        ]
      : []),
    ...(flags.iptablesForwardRules ? [forwardRules(config.network)] : []),
  ];
  const k = keeper ?? new IptablesKeeper(ctx.iptablesLog, flags.iptablesResync, ctx.onResync);
  await k.apply(sets);
  ctx.log.info({ masq: flags.ipMasq, forward: flags.iptablesForwardRules }, 'iptables rules in place');
  return k;
}

/**
 * --ip-masq and --iptables-forward-rules: flannel's rules for this network and lease, for IPv4
 * and (dual-stack) IPv6, applied atomically and kept in place by a keeper (created on first use,
 * re-applied when the lease moves). Two modes, as in flannel: iptables chains (iptables and
 * ip6tables), or with EnableNFTables the tables flannel-ipv4 / flannel-ipv6 in one nft
 * transaction; the unused mode's state is removed at start. A missing tool is fatal only with
 * --ip-masq.
 */
import type { Logger } from 'pino';
import {
  IptablesKeeper,
  iptablesAvailable,
  removeIptablesChains,
  supportsRandomFully,
} from '../sys/iptables.js';
import { forwardRules, forwardRules6, masqRules, masqRules6, type RuleSet } from '../sys/iptables-rules.js';
import { NftKeeper, nftAvailable, removeNftTables } from '../sys/nftables.js';
import { nftRules4, nftRules6 } from '../sys/nftables-rules.js';
import type { Lease } from '../core/lease.js';
import type { NetworkConfig } from '../core/network.js';
import { OverlaydError, describeError } from '../core/errors.js';
import type { Flags } from './flags.js';

export type RulesKeeper = IptablesKeeper | NftKeeper;
type RuleFlags = Pick<
  Flags,
  'ipMasq' | 'iptablesForwardRules' | 'ipMasqFullyRandomDisable' | 'iptablesResync'
>;
interface Ctx {
  log: Logger;
  iptablesLog: Logger;
  onResync: () => void;
}

export async function applyTrafficRules(
  flags: RuleFlags,
  config: NetworkConfig,
  lease: Lease,
  keeper: RulesKeeper | undefined,
  ctx: Ctx,
): Promise<RulesKeeper | undefined> {
  if (!flags.ipMasq && !flags.iptablesForwardRules) return keeper;
  return config.enableNFTables
    ? applyNft(flags, config, lease, keeper instanceof NftKeeper ? keeper : undefined, ctx)
    : applyIptables(flags, config, lease, keeper instanceof IptablesKeeper ? keeper : undefined, ctx);
}

async function applyNft(
  flags: RuleFlags,
  config: NetworkConfig,
  lease: Lease,
  keeper: NftKeeper | undefined,
  ctx: Ctx,
): Promise<RulesKeeper | undefined> {
  if (!(await nftAvailable())) {
    if (flags.ipMasq)
      throw new OverlaydError(
        'IPTABLES',
        'EnableNFTables with --ip-masq needs nft, which is not installed; install the nftables package or set EnableNFTables to false',
      );
    ctx.log.warn('nft is not installed: skipping the forward accept rules (--iptables-forward-rules)');
    return keeper;
  }
  if (!keeper)
    await removeIptablesChains().catch((e) =>
      ctx.log.warn({ err: describeError(e) }, 'removing iptables chains failed'),
    );
  const o = {
    masq: flags.ipMasq,
    forward: flags.iptablesForwardRules,
    fullyRandom: !flags.ipMasqFullyRandomDisable,
  };
  const sets = [nftRules4(config.network, lease.subnet, o)];
  if (config.ipv6 && lease.ipv6Subnet) sets.push(nftRules6(config.ipv6.network, lease.ipv6Subnet, o));
  const k = keeper ?? new NftKeeper(ctx.iptablesLog, flags.iptablesResync, ctx.onResync);
  await k.apply(sets);
  ctx.log.info(
    { masq: flags.ipMasq, forward: flags.iptablesForwardRules, tables: sets.map((s) => s.table) },
    'nftables rules in place',
  );
  return k;
}

async function applyIptables(
  flags: RuleFlags,
  config: NetworkConfig,
  lease: Lease,
  keeper: IptablesKeeper | undefined,
  ctx: Ctx,
): Promise<RulesKeeper | undefined> {
  if (!keeper)
    await removeNftTables().catch((e) =>
      ctx.log.warn({ err: describeError(e) }, 'removing nftables tables failed'),
    );
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
  const fullyRandom = !flags.ipMasqFullyRandomDisable && (await supportsRandomFully());
  const sets: RuleSet[] = [
    ...(flags.ipMasq ? [masqRules(config.network, lease.subnet, fullyRandom)] : []),
    ...(flags.iptablesForwardRules ? [forwardRules(config.network)] : []),
  ];
  // Dual-stack: the same chains through ip6tables, with the IPv6 network and our IPv6 subnet.
  const v6 = config.ipv6;
  if (v6 && lease.ipv6Subnet) {
    if (flags.ipMasq) sets.push(masqRules6(v6.network, lease.ipv6Subnet, fullyRandom));
    if (flags.iptablesForwardRules) sets.push(forwardRules6(v6.network));
  }
  const k = keeper ?? new IptablesKeeper(ctx.iptablesLog, flags.iptablesResync, ctx.onResync);
  await k.apply(sets);
  ctx.log.info({ masq: flags.ipMasq, forward: flags.iptablesForwardRules }, 'iptables rules in place');
  return k;
}

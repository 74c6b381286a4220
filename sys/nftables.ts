/**
 * Applies and keeps flannel's nftables tables (EnableNFTables): one `nft -f` transaction for all
 * of them, checked every --iptables-resync seconds against `nft list table` and rebuilt when the
 * listing differs from the one taken right after applying (nft prints rules in its own normal
 * form, so we compare nft with itself, never with our input text).
 */
import type { Logger } from 'pino';
import { OverlaydError } from '../core/errors.js';
import { renderNft, renderNftCleanup, type NftFamilyRules } from './nftables-rules.js';
import { RuleKeeper, type RuleDrift, type RuleWriter } from './rule-keeper.js';
import { runTool, type ToolResult } from './run-tool.js';

const nft = (args: readonly string[], input?: string): Promise<ToolResult> => runTool('nft', args, input);

export async function nftAvailable(): Promise<boolean> {
  return (await nft(['--version'])).code === 0;
}

/** Removes flannel's nftables tables, if nft is here at all (iptables mode cleans up the other mode). */
export async function removeNftTables(): Promise<void> {
  if (!(await nftAvailable())) return;
  const r = await nft(['-f', '-'], renderNftCleanup());
  if (r.code !== 0)
    throw new OverlaydError('IPTABLES', `nft could not remove flannel's tables: ${r.stderr.trim()}`);
}

/** Writes with one `nft -f` transaction; reads back with `nft list table`, compared with itself. */
class NftWriter implements RuleWriter<NftFamilyRules> {
  readonly name = 'nftables';
  /** Each table's listing right after the last install. */
  private readonly expected = new Map<string, string>();

  async install(sets: readonly NftFamilyRules[]): Promise<void> {
    const r = await nft(['-f', '-'], renderNft(sets));
    if (r.code !== 0) throw new OverlaydError('IPTABLES', `nft -f failed (${r.code}): ${r.stderr.trim()}`);
    this.expected.clear();
    for (const s of sets) this.expected.set(s.table, await this.listing(s));
  }

  /** A table whose listing changed (rule deleted or added, table gone). */
  async drift(sets: readonly NftFamilyRules[]): Promise<RuleDrift | undefined> {
    for (const s of sets) {
      if ((await this.listing(s)) !== this.expected.get(s.table))
        return { fields: { table: s.table }, message: 'nftables table drifted; rebuilding it' };
    }
    return undefined;
  }

  private async listing(s: NftFamilyRules): Promise<string> {
    const r = await nft(['list', 'table', s.family, s.table]);
    return r.code === 0 ? r.stdout : '';
  }
}

/** flannel's nftables tables, kept installed (rule-keeper.ts has the loop). */
export class NftKeeper extends RuleKeeper<NftFamilyRules> {
  constructor(log: Logger, resyncSeconds: number, onResync: () => void) {
    super(log, resyncSeconds, onResync, new NftWriter());
  }
}

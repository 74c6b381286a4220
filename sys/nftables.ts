/**
 * Applies and keeps flannel's nftables tables (EnableNFTables): one `nft -f` transaction for all
 * of them, checked every --iptables-resync seconds against `nft list table` and rebuilt when the
 * listing differs from the one taken right after applying (nft prints rules in its own normal
 * form, so we compare nft with itself, never with our input text).
 */
import { execFile } from 'node:child_process';
import type { Logger } from 'pino';
import { OverlaydError, describeError } from '../core/errors.js';
import { renderNft, renderNftCleanup, type NftFamilyRules } from './nftables-rules.js';

function nft(
  args: readonly string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile('nft', args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 127
        : 0;
      resolve({
        code,
        stdout: String(stdout),
        stderr: String(stderr) || (err && code === 127 ? err.message : ''),
      });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

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

export class NftKeeper {
  private timer: NodeJS.Timeout | undefined;
  private sets: readonly NftFamilyRules[] = [];
  private expected = new Map<string, string>();
  private checking: Promise<void> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly resyncSeconds: number,
    private readonly onResync: () => void,
  ) {}

  async apply(sets: readonly NftFamilyRules[]): Promise<void> {
    this.sets = sets;
    await this.install();
    if (!this.timer) {
      this.timer = setInterval(() => void this.check(), this.resyncSeconds * 1000);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async install(): Promise<void> {
    const r = await nft(['-f', '-'], renderNft(this.sets));
    if (r.code !== 0) throw new OverlaydError('IPTABLES', `nft -f failed (${r.code}): ${r.stderr.trim()}`);
    this.expected.clear();
    for (const s of this.sets) this.expected.set(s.table, await this.listing(s));
  }

  private async listing(s: NftFamilyRules): Promise<string> {
    const r = await nft(['list', 'table', s.family, s.table]);
    return r.code === 0 ? r.stdout : '';
  }

  /** The resync: a table whose listing changed (rule deleted or added, table gone) is rebuilt. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = (async () => {
      try {
        for (const s of this.sets) {
          if ((await this.listing(s)) === this.expected.get(s.table)) continue;
          this.log.warn({ table: s.table }, 'nftables table drifted; rebuilding it');
          this.onResync();
          await this.install();
          return;
        }
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'nftables resync failed');
      } finally {
        this.checking = undefined;
      }
    })();
    await this.checking;
  }
}

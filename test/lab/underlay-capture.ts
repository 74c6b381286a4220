/**
 * tcpdump on a lab node's underlay (eth0 in its namespace), written to a pcap file and read back
 * with pcap.ts once stopped. Started means listening: we wait for tcpdump's own "listening on" line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePcap, type PcapFile } from './pcap.js';

/**
 * What a WireGuard underlay capture leaves out: the lab's own traffic (ARP, etcd on 2379, the health
 * port 8081) and the kernel's IPv6 link housekeeping. `icmp6` alone does not cover the latter: MLD
 * reports carry a hop-by-hop header before ICMPv6, so tcpdump's `icmp6` misses them, and the kernel
 * sends them whenever it likes after a link comes up (a capture caught two, once in three CI runs).
 * They come from a link-local or unspecified source; any other IPv6 frame is still a stray.
 */
export const UNDERLAY_FILTER =
  'not arp and not icmp6 and not (ip6 and (src net fe80::/10 or src host ::)) and not tcp port 2379 and not tcp port 8081';

export class UnderlayCapture {
  private constructor(
    private readonly proc: ChildProcess,
    private readonly exited: Promise<void>,
    readonly file: string,
    private readonly stderr: () => string,
  ) {}

  /**
   * `filter` is a pcap filter expression (tcpdump's syntax); `dir` holds the file (the lab's dir).
   * -U writes each packet as it comes, --immediate-mode hands it over at once (else a capture
   * stopped within a second loses the kernel's unfinished TPACKET block), -s 0 whole frames.
   * `count` makes tcpdump stop by itself after that many packets (a sample of a long transfer
   * without a file of every frame in it); `stop` then just reads the file.
   */
  static async start(
    ns: string,
    dir: string,
    filter: string,
    iface = 'eth0',
    opts: { count?: number } = {},
  ): Promise<UnderlayCapture> {
    if (opts.count !== undefined && !(Number.isInteger(opts.count) && opts.count > 0))
      throw new Error(`UnderlayCapture: count ${opts.count} is not a positive integer`);
    const file = join(dir, `capture-${ns}-${Date.now()}.pcap`);
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'tcpdump',
        '-i',
        iface,
        '-n',
        '-U',
        '--immediate-mode',
        '-s',
        '0',
        ...(opts.count === undefined ? [] : ['-c', String(opts.count)]),
        '-w',
        file,
        filter,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tcpdump in ${ns}: not listening after 20 s: ${err}`)),
        20_000,
      );
      proc.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`tcpdump in ${ns} exited: ${err.trim()}`));
      });
    });
    return new UnderlayCapture(proc, exited, file, () => err);
  }

  /** Stops tcpdump (SIGINT: it flushes and closes the file) and parses what it wrote. */
  async stop(): Promise<PcapFile> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGINT');
    await this.exited;
    try {
      return parsePcap(new Uint8Array(await readFile(this.file)));
    } catch (err) {
      throw new Error(`${(err as Error).message} (tcpdump said: ${this.stderr().trim()})`);
    }
  }
}

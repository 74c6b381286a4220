/**
 * A flanneld wireguard node built by hand, on Debian's wireguard-go (a userspace WireGuard no one
 * here wrote): the reference the overlayd wireguard backend interoperates with and is benched
 * against. It programs what flanneld's pkg/backend/wireguard programs on a kernel device, in the
 * same order, with `wg` and `ip`:
 *
 *   device   flannel-wg (wireguard-go's TUN), MTU = the underlay's (or config MTU) − 80
 *   wg set   private-key <key file, base64, mode 0400>  listen-port 51820
 *   address  the lease subnet's network address /32;  link up;  route <Network> dev flannel-wg scope link
 *   per peer wg set peer <PublicKey> [preshared-key] persistent-keepalive <s|off>
 *                   endpoint <PublicIP>:<Port> allowed-ips <lease subnet>   (allowed-ips replaces)
 *            and the Network route again (flanneld re-ensures it on every lease event)
 *   lease    <prefix>/subnets/<subnet> = {"PublicIP", "PublicIPv6": null, "BackendType": "wireguard",
 *            "BackendData": {"PublicKey", "Port"}}, written into etcd by hand
 *
 * wireguard-go keeps its UAPI socket at /var/run/wireguard/<device>.sock, one path on the shared
 * filesystem: two lab nodes both named flannel-wg would take each other's socket. So it runs in a
 * mount namespace of its own with a private tmpfs on /var/run/wireguard, and `wg` is run inside
 * that mount namespace (nsenter); the socket never exists on the host and goes with the process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabNode } from './lab-node.js';
import { otherLeases } from './peer-leases.js';
import { must, run, type RunResult } from './shell.js';

export const WG_DEVICE = 'flannel-wg';
export const WG_DEVICE_V6 = 'flannel-wg-v6';
/** flannel's pkg/backend/wireguard: IPv4/6 header, UDP header, type, index, counter, tag (80 covers IPv6). */
export const WG_OVERHEAD = 80;
export const WG_DEFAULT_PORT = 51820;

/**
 * The one Network route flanneld's wireguard backend installs, as `ip -d -j route show dev
 * flannel-wg` prints it: device.go addRoute is netlink.RouteReplace{LinkIndex, Scope: SCOPE_LINK,
 * Dst: Network}, and vishvananda/netlink fills the rest of the message with its defaults (table
 * main, proto boot, type unicast) and no preferred source.
 */
export function flannelWgRoute(network: string): Record<string, unknown> {
  return { type: 'unicast', dst: network, protocol: 'boot', scope: 'link', flags: [] };
}

export interface WireguardGoOptions {
  /** The lease subnet, e.g. 10.244.201.0/24; its network address goes on the device. */
  readonly subnet: string;
  /** The flannel Network the one route covers (default 10.244.0.0/16). */
  readonly network?: string;
  /** Backend ListenPort (default 51820). */
  readonly listenPort?: number;
  /** Backend MTU (default: eth0's); the device and subnet.env get MTU − 80. */
  readonly mtu?: number;
  /** Backend PSK, base64 (default none). */
  readonly psk?: string;
  /** Backend PersistentKeepaliveInterval in seconds (default 0: off). */
  readonly persistentKeepalive?: number;
  /**
   * flanneld's second device of a dual-stack node (wireguard-go-node6.ts): flannel-wg-v6 with
   * the v4 device's key file (flanneld reads one key for both), `subnet` and `network` IPv6 ones,
   * address /128, and no subnet.env of its own.
   */
  readonly v6?: { readonly privateKeyFile: string; readonly publicKey: string };
}

/** A peer as flanneld derives it from a lease. */
export interface WgPeer {
  readonly publicKey: string;
  /** ip:port */
  readonly endpoint: string;
  readonly allowedIps: readonly string[];
}

/** One peer line of `wg show <dev> dump`. */
export interface WgPeerState {
  readonly publicKey: string;
  readonly endpoint: string;
  readonly allowedIps: string;
  /** Unix seconds of the latest handshake, 0 when none yet. */
  readonly latestHandshake: number;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly persistentKeepalive: string;
}

interface WireguardLease {
  PublicIP: string;
  BackendType?: string;
  BackendData?: { PublicKey?: string; Port?: number };
}

export class WireguardGoNode {
  private exited: Promise<void>;
  private stopped = false;

  private constructor(
    readonly node: LabNode,
    readonly opts: Required<Omit<WireguardGoOptions, 'psk' | 'v6'>> & { psk?: string },
    private readonly proc: ChildProcess,
    readonly privateKeyFile: string,
    readonly publicKey: string,
    /** flannel-wg, or flannel-wg-v6 for a dual-stack node's IPv6 device. */
    readonly device: string,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  /** wireguard-go's own pid (spawned through exec-only wrappers), for CPU accounting. */
  get pid(): number {
    return this.proc.pid!;
  }
  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }
  get listenPort(): number {
    return this.opts.listenPort;
  }
  /** The MTU flanneld writes to subnet.env and sets on the device. */
  get deviceMtu(): number {
    return this.opts.mtu - WG_OVERHEAD;
  }
  get logFile(): string {
    return join(this.node.lab.dir, `n${this.node.index}-wireguard-go${this.isV6 ? '-v6' : ''}.log`);
  }
  get leaseKey(): string {
    return `${this.node.lab.prefix}/subnets/${this.opts.subnet.replace('/', '-')}`;
  }

  /**
   * Starts wireguard-go in `node`'s namespace and configures it as flanneld configures its device;
   * writes subnet.env (so pods attach) but not the lease: call writeLease() when the node should appear.
   */
  static async start(node: LabNode, options: WireguardGoOptions): Promise<WireguardGoNode> {
    const mtu = options.mtu ?? (await eth0Mtu(node));
    const opts = {
      subnet: options.subnet,
      network: options.network ?? '10.244.0.0/16',
      listenPort: options.listenPort ?? WG_DEFAULT_PORT,
      mtu,
      persistentKeepalive: options.persistentKeepalive ?? 0,
      ...(options.psk === undefined ? {} : { psk: options.psk }),
    };
    const device = options.v6 ? WG_DEVICE_V6 : WG_DEVICE;
    const { privateKeyFile, publicKey } = options.v6 ?? (await newKeyFile(node));

    // The mount point must exist to mount the private tmpfs over it (on the host it stays empty).
    await mkdir('/var/run/wireguard', { recursive: true });
    const log = join(node.lab.dir, `n${node.index}-wireguard-go${options.v6 ? '-v6' : ''}.log`);
    const out = createWriteStream(log, { flags: 'a' });
    // Every wrapper execs (ip netns exec, unshare without --fork, sh's exec, env), so the child's
    // pid is wireguard-go's. -f: foreground, so this process owns it and sees it exit.
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        node.ns,
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount -t tmpfs -o mode=0700 wgrun /var/run/wireguard && exec wireguard-go -f ${device}`,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', LOG_LEVEL: 'error' },
      },
    );
    proc.stdout!.pipe(out);
    proc.stderr!.pipe(out);
    const wgn = new WireguardGoNode(node, opts, proc, privateKeyFile, publicKey, device);
    try {
      await wgn.waitUapi();
      await wgn.configureDevice();
      if (!options.v6) await node.writeSubnetEnv(opts.subnet.replace(/\.0\/(\d+)$/, '.1/$1'), wgn.deviceMtu);
    } catch (err) {
      await wgn.stop();
      throw err;
    }
    return wgn;
  }

  /** Runs `wg` against this node's wireguard-go (its netns and its private /var/run/wireguard). */
  wg(args: readonly string[]): Promise<RunResult> {
    return run('nsenter', ['-t', String(this.pid), '-m', '-n', 'wg', ...args]);
  }
  async mustWg(args: readonly string[]): Promise<string> {
    const r = await this.wg(args);
    if (r.code !== 0) throw new Error(`wg ${args.join(' ')} on node ${this.node.index}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  private async waitUapi(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`wireguard-go on node ${this.node.index} exited; see ${this.logFile}`);
      const r = await this.wg(['show', this.device, 'listen-port']);
      if (r.code === 0) return;
      last = r.stderr.trim();
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error(`wireguard-go on node ${this.node.index}: no UAPI after ${timeoutMs} ms (${last})`);
  }

  /** An IPv6 device (flannel-wg-v6): `ip -6`, /128, IPv6 forwarding. */
  get isV6(): boolean {
    return this.device === WG_DEVICE_V6;
  }

  /**
   * flanneld's newWGDevice + Configure (ConfigureV6 for flannel-wg-v6): key and port, then
   * address, link up, the Network route.
   */
  private async configureDevice(): Promise<void> {
    const ip = (args: string[]) => this.node.mustExec('ip', [...(this.isV6 ? ['-6'] : []), ...args]);
    await ip(['link', 'set', this.device, 'mtu', String(this.deviceMtu)]);
    await this.mustWg([
      'set',
      this.device,
      'private-key',
      this.privateKeyFile,
      'listen-port',
      String(this.opts.listenPort),
    ]);
    const host = `${this.opts.subnet.split('/')[0]}/${this.isV6 ? 128 : 32}`;
    await ip(['addr', 'add', host, 'dev', this.device, ...(this.isV6 ? ['nodad'] : [])]);
    await ip(['link', 'set', this.device, 'up']);
    await ip(['route', 'replace', this.opts.network, 'dev', this.device, 'scope', 'link']);
    // Pods' traffic is routed through the node (kubelet's hosts have forwarding on).
    await this.node.mustExec('sysctl', [
      '-qw',
      this.isV6 ? 'net.ipv6.conf.all.forwarding=1' : 'net.ipv4.ip_forward=1',
    ]);
  }

  /** The lease flanneld would acquire, as it stores it. */
  leaseValue(): string {
    return JSON.stringify({
      PublicIP: this.node.ip,
      PublicIPv6: null,
      BackendType: 'wireguard',
      BackendData: { PublicKey: this.publicKey, Port: this.opts.listenPort },
    });
  }

  async writeLease(): Promise<void> {
    const c = this.node.lab.client();
    try {
      await c.put(this.leaseKey).value(this.leaseValue()).exec();
    } finally {
      c.close();
    }
  }

  async deleteLease(): Promise<void> {
    const c = this.node.lab.client();
    try {
      await c.delete().key(this.leaseKey).exec();
    } finally {
      c.close();
    }
  }

  /** flanneld's addPeer for one lease event, then its route re-ensure. */
  async addPeer(peer: WgPeer): Promise<void> {
    await this.mustWg([
      'set',
      this.device,
      'peer',
      peer.publicKey,
      ...(this.opts.psk === undefined ? [] : ['preshared-key', await this.pskFile()]),
      'persistent-keepalive',
      this.opts.persistentKeepalive > 0 ? String(this.opts.persistentKeepalive) : 'off',
      'endpoint',
      peer.endpoint,
      'allowed-ips',
      peer.allowedIps.join(','),
    ]);
    await this.node.mustExec('ip', [
      ...(this.isV6 ? ['-6'] : []),
      'route',
      'replace',
      this.opts.network,
      'dev',
      this.device,
      'scope',
      'link',
    ]);
  }

  async removePeer(publicKey: string): Promise<void> {
    await this.mustWg(['set', this.device, 'peer', publicKey, 'remove']);
  }

  /**
   * What flanneld's lease watch converges to, done once: a peer for every other wireguard lease
   * in etcd (endpoint PublicIP:Port, the local port when a lease has none), and none for leases gone.
   * Returns the peers configured.
   */
  async syncPeers(): Promise<WgPeer[]> {
    const want: WgPeer[] = [];
    for (const { key, lease } of await otherLeases<WireguardLease>(this.node, this.leaseKey)) {
      const pub = lease.BackendData?.PublicKey;
      if (lease.BackendType !== 'wireguard' || !pub) continue;
      const subnet = key.replace('-', '/');
      want.push({
        publicKey: pub,
        endpoint: `${lease.PublicIP}:${lease.BackendData?.Port || this.opts.listenPort}`,
        allowedIps: [subnet],
      });
    }
    const have = (await this.peers()).map((p) => p.publicKey);
    for (const p of want) await this.addPeer(p);
    for (const k of have) if (!want.some((p) => p.publicKey === k)) await this.removePeer(k);
    return want;
  }

  /** `wg show <device> dump`, peers only. */
  async peers(): Promise<WgPeerState[]> {
    const lines = (await this.mustWg(['show', this.device, 'dump'])).trim().split('\n').slice(1);
    return lines
      .filter((l) => l.length > 0)
      .map((l) => {
        const f = l.split('\t');
        return {
          publicKey: f[0]!,
          endpoint: f[2]!,
          allowedIps: f[3]!,
          latestHandshake: Number(f[4]),
          rxBytes: Number(f[5]),
          txBytes: Number(f[6]),
          persistentKeepalive: f[7]!,
        };
      });
  }

  private async pskFile(): Promise<string> {
    const file = join(this.node.lab.dir, `n${this.node.index}-wg`, 'psk');
    await writeFile(file, this.opts.psk!, { mode: 0o400 });
    return file;
  }

  /**
   * SIGTERM (wireguard-go removes its TUN and socket), SIGKILL if it lingers; its mount namespace,
   * with the tmpfs holding the socket, goes with it.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.running) this.proc.kill('SIGTERM');
    const killer = setTimeout(() => {
      if (this.running) this.proc.kill('SIGKILL');
    }, 5_000);
    await this.exited;
    clearTimeout(killer);
  }
}

/** flanneld keeps the key base64 in a 0400 file ($WIREGUARD_KEY_FILE); wg reads it from a file too. */
async function newKeyFile(node: LabNode): Promise<{ privateKeyFile: string; publicKey: string }> {
  const dir = join(node.lab.dir, `n${node.index}-wg`);
  await mkdir(dir, { recursive: true });
  const privateKey = (await must('wg', ['genkey'])).trim();
  const publicKey = (await must('wg', ['pubkey'], { input: privateKey + '\n' })).trim();
  const privateKeyFile = join(dir, 'wgkey');
  await writeFile(privateKeyFile, privateKey, { mode: 0o600 });
  await chmod(privateKeyFile, 0o400);
  return { privateKeyFile, publicKey };
}

async function eth0Mtu(node: LabNode): Promise<number> {
  const j = JSON.parse(await node.mustExec('ip', ['-j', 'link', 'show', 'eth0'])) as Array<{ mtu: number }>;
  return j[0]!.mtu;
}

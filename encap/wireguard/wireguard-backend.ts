/**
 * flannel's wireguard backend on overlayd's own userspace WireGuard: the udp backend's engine
 * (TUN ⇄ UDP worker, batching, TUN TSO/GRO, UDP GSO/GRO) on the WireGuard wire
 * (encap/udp/wire/wireguard-wire.ts, encap/udp/wg-dataplane.ts), with the Noise_IKpsk2 control
 * plane (protocol/) in the same worker. For hosts without the kernel's WireGuard module, where
 * flanneld fails with "could not create wireguard interface: operation not supported".
 *
 * To other nodes it is a flanneld wireguard node (../shared/reference/flannel-contract.md §12):
 *   lease       BackendType "wireguard", BackendData {"PublicKey": "<base64>", "Port": <ListenPort>}
 *               (a peer lease without Port: our ListenPort, as flannel before PR #2200)
 *   key         $WIREGUARD_KEY_FILE or /run/flannel/wgkey, base64, created once with mode 0400,
 *               reused across restarts (key-file.ts); never logged, never in etcd, never a metric
 *   device      TUN `flannel-wg` (a kernel wireguard link of that name is deleted first), MTU =
 *               (Backend.MTU or the external interface's) − 80, address = the lease subnet's
 *               network address /32, one route for the whole Network through it as flannel's
 *               device.go adds it: scope link, proto boot, no src, table main
 *   peers       one per wireguard lease: endpoint PublicIP:Port, allowed IPs = the lease's subnet,
 *               PSK and PersistentKeepaliveInterval from the config; removed with the lease
 *   dual-stack  (EnableIPv6, Mode "separate", flannel's default) a second engine instance for
 *               flannel's second device, as vxlan-userspace.ts runs flannel-v6.<VNI>: a TUN
 *               `flannel-wg-v6`, AF_INET6 sockets on the interface's IPv6 address and ListenPortV6
 *               (51821), inner IPv6 over the IPv6 underlay, the same private key (flanneld reads
 *               one key file for both devices), the same MTU (base − 80: flannel sizes the
 *               overhead for an IPv6 outer header on both), address <IPv6 subnet>/128 and one
 *               route for the IPv6Network through it (proto boot; flannel asks for scope link,
 *               which the kernel does not keep on an IPv6 route). Lease BackendV6Data
 *               {"PublicKey", "Port": ListenPortV6}; peers from each lease's PublicIPv6 and
 *               BackendV6Data, allowed IPs = its IPv6 subnet. Two engines, each one family's,
 *               counting into one set of udp metrics (v6 workers "v6-duplex-0", …); the worse
 *               health of the two is reported.
 *   refused     Mode "ipv6" (flannel-wg with IPv6 endpoints), and Mode "auto"/"ipv4" with
 *               EnableIPv6 (one flannel-wg carrying both families): a one-line error naming
 *               Backend.Mode and the fix. Mode separate/auto/ipv4 on an IPv4 network all mean
 *               flannel-wg.
 *
 * Stable interface (the interop and security e2e suites rely on these names):
 *   config      Backend {Type: "wireguard", ListenPort, ListenPortV6, PSK, PersistentKeepaliveInterval,
 *               MTU, Mode} (wireguard-config.ts)
 *   env         WIREGUARD_KEY_FILE; OVERLAYD_TEST_WG_TIMERS (test only: JSON of timer overrides
 *               in seconds, e.g. {"rekeyAfterTime":10,"rejectAfterTime":15}; refused when malformed,
 *               logged at warn when set; see test-timers.ts for the keys)
 *   metrics     overlayd_udp_drops_total{direction,reason}: unknown_message_type, truncated,
 *               oversized, unknown_receiver_index, replayed_counter, bad_tag, expired_session,
 *               disallowed_source, no_session (tx), handshake_* (the control plane's refusals);
 *               overlayd_wireguard_events_total{event}: handshakes_sent, handshakes_received,
 *               sessions, keepalives_sent, keepalives_received, held, roamed; the rest of
 *               overlayd_udp_* as for the udp backend
 *   log         "wireguard datapath started" {device, port, mtu, publicKey, keyFile}; dual-stack
 *               also "wireguard IPv6 datapath started" {device, port, mtu}
 */
import { OverlaydError } from '../../core/errors.js';
import type { Lease, LeaseEvent } from '../../core/lease.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { RT_SCOPE_LINK } from '../../sys/rtnetlink/constants.js';
import { findLink } from '../../sys/rtnetlink/link-ops.js';
import { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { deleteLink } from '../../sys/rtnetlink/objects.js';
import type { PeerEntry } from '../udp/peer-table.js';
import { UdpBackend } from '../udp/udp-backend.js';
import type { MetricsShare } from '../udp/udp-datapath.js';
import { combinedHealthContexts } from '../udp/combined-health.js';
import { wordsOf6 } from '../../core/ipv6-words.js';
import { keyFilePath, loadOrCreateKey } from './key-file.js';
import { parseTestTimers } from './test-timers.js';
import { refuseBelowIpv6MinMtu } from '../ipv6-min-mtu.js';
import {
  parseBase64Key,
  parseWireguardConfig,
  WG_OVERHEAD,
  type WgMode,
  type WireguardConfig,
} from './wireguard-config.js';

export const WG_DEVICE = 'flannel-wg';
export const WG_DEVICE_V6 = 'flannel-wg-v6';

export function createWireguardBackend(ctx: BackendContext): Backend {
  return new WireguardBackend(ctx);
}

/** BackendData of a wireguard lease: {"PublicKey": base64, "Port"?: n}, keys in any case. */
export function parseWgBackendData(data: unknown): { publicKey: Uint8Array; port?: number } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const lower: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) lower[k.toLowerCase()] = v;
  const key = typeof lower['publickey'] === 'string' ? parseBase64Key(lower['publickey']) : undefined;
  if (!key) return undefined;
  const port = lower['port'];
  return typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535
    ? { publicKey: key, port }
    : { publicKey: key };
}

/**
 * The modes that put both families on one flannel-wg (Mode "ipv6": IPv4 inside, IPv6 endpoints;
 * "auto"/"ipv4" with EnableIPv6: both families inside): refused with the field and the fix.
 */
export function refuseOneDeviceModes(mode: WgMode, dual: boolean): void {
  if (mode === 'separate' || (mode !== 'ipv6' && !dual)) return;
  const what = dual ? 'one flannel-wg device carrying both families' : 'flannel-wg with IPv6 endpoints';
  throw new OverlaydError(
    'BAD_CONFIG',
    `network config: Backend.Mode "${mode}" (${what}) is not supported by overlayd's userspace WireGuard; use Backend.Mode "separate" (the default: flannel-wg, and flannel-wg-v6 with EnableIPv6)`,
  );
}

/**
 * flannel-wg-v6's peer: a wireguard lease with an IPv6 subnet, a PublicIPv6 and a usable
 * BackendV6Data (its Port, else our ListenPortV6 as flannel before PR #2200); allowed IPs = the
 * IPv6 subnet. A single-stack peer has none: it is a flannel-wg peer only, as with flanneld.
 */
export function wgPeer6Of(l: Lease, listenPortV6: number): PeerEntry | undefined {
  if (l.attrs.backendType !== 'wireguard') return undefined;
  const data = parseWgBackendData(l.attrs.backendV6Data);
  const sn6 = l.ipv6Subnet;
  const pub6 = l.attrs.publicIpv6;
  if (!data || !sn6 || pub6 === undefined) return undefined;
  return {
    subnetIp: 0,
    prefixLen: 0,
    publicIp: 0,
    port: data.port ?? listenPortV6,
    publicKey: data.publicKey,
    publicIp6: Uint32Array.from(wordsOf6(pub6)),
    subnetIp6: Uint32Array.from(wordsOf6(sn6.ip)),
    prefixLen6: sn6.prefixLen,
  };
}

export class WireguardBackend implements Backend {
  readonly type = 'wireguard' as const;
  private readonly cfg: WireguardConfig;
  private readonly mtu: number;
  private readonly timers: Readonly<Record<string, number>> | undefined;
  private engine: UdpBackend | undefined;
  /** Dual-stack: flannel-wg-v6's engine. */
  private engine6: UdpBackend | undefined;
  private readonly dual: boolean;
  private publicKey = '';

  constructor(private readonly ctx: BackendContext) {
    this.cfg = parseWireguardConfig(ctx.config.backend);
    this.dual = ctx.config.ipv6 !== undefined;
    refuseOneDeviceModes(this.cfg.mode, this.dual);
    this.mtu = (this.cfg.mtu ?? ctx.extIface.mtu) - WG_OVERHEAD;
    if (this.dual) refuseBelowIpv6MinMtu('flannel-wg-v6', this.cfg.mtu ?? ctx.extIface.mtu, WG_OVERHEAD);
    this.timers = parseTestTimers(process.env['OVERLAYD_TEST_WG_TIMERS']);
  }

  async register(): Promise<Registration> {
    if (process.platform !== 'linux')
      throw new OverlaydError('BACKEND', 'the wireguard backend needs Linux (TUN, recvmmsg)');
    if (this.timers)
      this.ctx.log.warn(
        { timers: this.timers },
        'OVERLAYD_TEST_WG_TIMERS is set: WireGuard timers shortened (test-only; never in production)',
      );
    const key = loadOrCreateKey(keyFilePath(process.env));
    this.publicKey = Buffer.from(key.publicKey).toString('base64');
    if (key.looseMode !== undefined)
      this.ctx.log.warn(
        { keyFile: key.path, mode: key.looseMode.toString(8) },
        'the WireGuard key file is readable by other users; chmod 0400 it',
      );
    if (this.dual && (!this.ctx.extIface.publicIpv6 || !this.ctx.extIface.ifaceV6Addr)) {
      key.privateKey.fill(0);
      throw new OverlaydError(
        'BACKEND',
        'dual-stack wireguard: the external interface has no IPv6 address; give --public-ipv6 or an interface with a global IPv6 address',
      );
    }
    const wire = {
      kind: 'wireguard' as const,
      privateKey: [...key.privateKey],
      ...(this.cfg.psk ? { presharedKey: [...this.cfg.psk] } : {}),
      persistentKeepalive: this.cfg.persistentKeepaliveInterval,
      ...(this.timers ? { timers: this.timers } : {}),
    };
    key.privateKey.fill(0); // the spec holds the one copy the workers get (both devices: one key)
    this.replaceNonTun(WG_DEVICE);
    const share: MetricsShare | undefined = this.dual
      ? { blocks: [], workers: [], registered: false }
      : undefined;
    const [ctx4, ctx6] = this.dual ? combinedHealthContexts(this.ctx) : [this.ctx, this.ctx];
    this.engine = new UdpBackend(ctx4, {
      tunName: WG_DEVICE,
      port: this.cfg.listenPort,
      mtu: this.mtu,
      routeScope: RT_SCOPE_LINK,
      wire,
      entryOf: (l) => this.entryOf(l),
      ...(share ? { metricsShare: share } : {}),
    });
    const backendData = { PublicKey: this.publicKey, Port: this.cfg.listenPort };
    if (!this.dual) return { backendType: 'wireguard', backendData, mtu: this.mtu };
    this.replaceNonTun(WG_DEVICE_V6);
    this.engine6 = new UdpBackend(ctx6, {
      tunName: WG_DEVICE_V6,
      port: this.cfg.listenPortV6,
      mtu: this.mtu,
      wire,
      entryOf: (l) => wgPeer6Of(l, this.cfg.listenPortV6),
      family: 6,
      metricsShare: share!,
      workerPrefix: 'v6-',
    });
    return {
      backendType: 'wireguard',
      backendData,
      backendV6Data: { PublicKey: this.publicKey, Port: this.cfg.listenPortV6 },
      mtu: this.mtu,
    };
  }

  /** flanneld's kernel device (or anything else) of our name goes: the TUN takes the name. */
  private replaceNonTun(name: string): void {
    const nl = new RtNetlink();
    try {
      const old = findLink(nl, name);
      if (old && old.kind !== 'tun') {
        this.ctx.log.warn({ device: name, kind: old.kind }, 'replacing the device with the userspace TUN');
        nl.request(`delete ${name}`, deleteLink(old.index));
      }
    } finally {
      nl.close();
    }
  }

  async start(own: Lease): Promise<void> {
    await this.engine!.start(own);
    this.ctx.log.info(
      {
        device: WG_DEVICE,
        port: this.cfg.listenPort,
        mtu: this.mtu,
        publicKey: this.publicKey,
        keyFile: keyFilePath(process.env),
      },
      'wireguard datapath started',
    );
    if (!this.engine6) return;
    await this.engine6.start(own); // flannel-wg-v6: its TUN, /128 address, IPv6Network route
    this.ctx.log.info(
      { device: WG_DEVICE_V6, port: this.cfg.listenPortV6, mtu: this.mtu },
      'wireguard IPv6 datapath started',
    );
  }

  /** A wireguard lease with a usable PublicKey is a peer: its subnet is its allowed IPs. */
  private entryOf(l: Lease): PeerEntry | undefined {
    if (l.attrs.backendType !== 'wireguard') return undefined;
    const data = parseWgBackendData(l.attrs.backendData);
    if (!data) return undefined;
    return {
      subnetIp: l.subnet.ip,
      prefixLen: l.subnet.prefixLen,
      publicIp: l.attrs.publicIp,
      port: data.port ?? this.cfg.listenPort,
      publicKey: data.publicKey,
    };
  }

  async applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    await this.engine!.applyPeerEvents(events);
    await this.engine6?.applyPeerEvents(events);
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    await this.engine!.reconcile(all);
    await this.engine6?.reconcile(all);
  }

  async close(): Promise<void> {
    try {
      await this.engine?.close();
    } finally {
      await this.engine6?.close();
    }
  }
}

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
 *   IPv4 only   the engine carries IPv4: EnableIPv6 with this backend is refused by the network
 *               config check (core/network.ts IPV6_BACKENDS), Mode ipv6 here; flannel-wg-v6 is
 *               not created. Mode separate/auto/ipv4 on an IPv4 network all mean flannel-wg.
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
 *   log         "wireguard datapath started" {device, port, mtu, publicKey, keyFile}
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
import { keyFilePath, loadOrCreateKey } from './key-file.js';
import { parseTestTimers } from './test-timers.js';
import {
  parseBase64Key,
  parseWireguardConfig,
  WG_OVERHEAD,
  type WireguardConfig,
} from './wireguard-config.js';

export const WG_DEVICE = 'flannel-wg';

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

export class WireguardBackend implements Backend {
  readonly type = 'wireguard' as const;
  private readonly cfg: WireguardConfig;
  private readonly mtu: number;
  private readonly timers: Readonly<Record<string, number>> | undefined;
  private engine: UdpBackend | undefined;
  private publicKey = '';

  constructor(private readonly ctx: BackendContext) {
    this.cfg = parseWireguardConfig(ctx.config.backend);
    if (this.cfg.mode === 'ipv6')
      throw new OverlaydError(
        'BAD_CONFIG',
        'network config: Backend.Mode "ipv6" is not supported by overlayd\'s userspace WireGuard (it carries IPv4); use separate, auto or ipv4',
      );
    if (ctx.config.ipv6)
      throw new OverlaydError(
        'BAD_CONFIG',
        'network config: EnableIPv6 is not supported with the wireguard backend (its userspace engine carries IPv4); remove EnableIPv6',
      );
    this.mtu = (this.cfg.mtu ?? ctx.extIface.mtu) - WG_OVERHEAD;
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
    // flanneld's kernel device (or anything else) of our name goes: the TUN takes the name.
    const nl = new RtNetlink();
    try {
      const old = findLink(nl, WG_DEVICE);
      if (old && old.kind !== 'tun') {
        this.ctx.log.warn(
          { device: WG_DEVICE, kind: old.kind },
          'replacing the device with the userspace TUN',
        );
        nl.request(`delete ${WG_DEVICE}`, deleteLink(old.index));
      }
    } finally {
      nl.close();
    }
    this.engine = new UdpBackend(this.ctx, {
      tunName: WG_DEVICE,
      port: this.cfg.listenPort,
      mtu: this.mtu,
      routeScope: RT_SCOPE_LINK,
      wire: {
        kind: 'wireguard',
        privateKey: [...key.privateKey],
        ...(this.cfg.psk ? { presharedKey: [...this.cfg.psk] } : {}),
        persistentKeepalive: this.cfg.persistentKeepaliveInterval,
        ...(this.timers ? { timers: this.timers } : {}),
      },
      entryOf: (l) => this.entryOf(l),
    });
    key.privateKey.fill(0); // the spec above holds the one copy the worker gets
    return {
      backendType: 'wireguard',
      backendData: { PublicKey: this.publicKey, Port: this.cfg.listenPort },
      mtu: this.mtu,
    };
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
  }

  async reconcile(all: readonly Lease[]): Promise<void> {
    await this.engine!.reconcile(all);
  }

  async close(): Promise<void> {
    await this.engine?.close();
  }
}

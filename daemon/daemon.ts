/**
 * The daemon's lifecycle, in flanneld's order:
 *   health server → network config (polled) → br_netfilter check → external interface →
 *   backend.register → lease → backend.start → [traffic rules] → subnet.env, ready, READY=1 →
 *   peer watch → lease keep-alive.
 * SIGTERM/SIGINT stop it cleanly and keep the lease (a restart gets the same subnet); a DELETE of
 * our lease key by someone else stops it too (exit 0, for the supervisor to restart us). A stop
 * during start-up aborts the step in flight (lease acquisition, backend registration) and runs no
 * later step. A conflict (our subnet taken while we were away) moves us to a new lease, one move
 * at a time, not ready until it is done, retrying with backoff (daemon/lease-move.ts).
 */
import type { Logger } from 'pino';
import { BACKENDS } from './backends.js';
import { brNetfilterWarning } from '../sys/netfilter-check.js';
import { readConfigOnce, waitForConfig } from './config-source.js';
import { OverlaydError, describeError } from '../core/errors.js';
import type { Flags } from './flags.js';
import { HealthServer, type ProbeResult } from './health-server.js';
import { StatusServer } from './status-server.js';
import { PeerChangeLog, openStatusSocket } from './status-provider.js';
import type { ExternalInterface } from '../core/external-interface.js';
import { selectInterface } from './iface.js';
import { LeaseMove } from './lease-move.js';
import { componentLogger } from './logger.js';
import { DaemonMetrics } from './metrics.js';
import type { Backend, BackendHealth, Registration } from '../encap/backend.js';
import type { RulesKeeper } from './traffic-rules-setup.js';
import { readHostView, type HostView } from '../sys/host-view.js';
import { sdNotify } from '../sys/sd-notify.js';
import { realSleep } from '../subnet-lease/backoff.js';
import { openEtcdRegistry } from '../subnet-lease/etcd-client.js';
import { formatCidr, formatIpv4, parseIpv4 } from '../core/ipv4.js';
import { formatCidr6, parseIpv6 } from '../core/ipv6.js';
import { routeTo } from '../sys/route-lookup.js';
import type { Lease } from '../core/lease.js';
import type { LeaseSubnets } from '../core/subnet-key.js';
import { LeaseManager } from '../subnet-lease/lease-manager.js';
import type { NetworkConfig } from '../core/network.js';
import type { PeerWatch } from '../subnet-lease/peer-watch.js';
import { createPeerSync } from './peer-sync.js';
import { applyTrafficRules } from './traffic-rules-setup.js';
import type { LeaseRegistry } from '../subnet-lease/lease-registry.js';
import { readSubnetFile, writeSubnetFile } from '../subnet-lease/subnet-file.js';

export interface DaemonDeps {
  readonly hostView?: () => HostView;
  readonly env?: NodeJS.ProcessEnv;
}

export class Daemon {
  private readonly metrics = new DaemonMetrics();
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private health: HealthServer | undefined;
  private status: StatusServer | undefined;
  private readonly peerLog = new PeerChangeLog();
  private config: NetworkConfig | undefined;
  private backend: Backend | undefined;
  private leases: LeaseManager | undefined;
  private watch: PeerWatch | undefined;
  private registry: LeaseRegistry | undefined;
  private leaseAttrs: Lease['attrs'] | undefined;
  private iptables: RulesKeeper | undefined;
  /** backend.register() in flight: stop() lets it settle before closing the backend. */
  private registering: Promise<unknown> | undefined;
  private leaseMove: LeaseMove | undefined;
  private ready = false;
  /** What the backend last said about its datapath (ctx.reportHealth). */
  private datapath: BackendHealth = { state: 'up' };
  /** The peer watch delivered its first listing: its lease set is the truth from now on. */
  private peersListed = false;
  private exitCode = 0;
  private stopping: Promise<void> | undefined;
  private resolveDone: (code: number) => void = () => undefined;
  private readonly done = new Promise<number>((r) => (this.resolveDone = r));

  constructor(
    private readonly flags: Flags,
    private readonly rootLog: Logger,
    private readonly deps: DaemonDeps = {},
  ) {
    this.log = componentLogger(rootLog, 'daemon');
  }

  /** Runs until stopped; resolves with the process exit code. */
  async run(): Promise<number> {
    // A stop may arrive in the middle of start-up (an etcd call in flight): the exit code comes
    // from `done`, which stop() resolves, never from start-up finishing.
    this.startUp().catch(async (err: unknown) => {
      if (this.abort.signal.aborted) return;
      this.log.fatal({ code: (err as OverlaydError).code }, describeError(err));
      this.exitCode = 1;
      await this.stop('startup failed');
    });
    return this.done;
  }

  /** Clean stop: the lease is kept, peers' kernel state is left for the next start. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info({ reason }, 'stopping');
      this.abort.abort();
      this.setReady(false);
      try {
        sdNotify('STOPPING=1', this.deps.env);
      } catch {
        // systemd went away first; nothing to tell
      }
      await this.watch?.stop().catch(() => undefined);
      await this.leases?.stop().catch(() => undefined);
      this.iptables?.stop();
      // Closing a backend halfway through register() would leave what register creates next.
      // The wait is bounded: the process exits soon after anyway.
      if (this.registering) await Promise.race([this.registering.catch(() => undefined), realSleep(5000)]);
      await this.backend
        ?.close()
        .catch((err) => this.log.warn({ err: describeError(err) }, 'backend close failed'));
      await this.health?.close().catch(() => undefined);
      await this.status?.close().catch(() => undefined);
      this.registry?.close();
      this.resolveDone(this.exitCode);
    })();
    return this.stopping;
  }

  private setReady(ready: boolean): void {
    this.ready = ready;
    this.metrics.ready.set(ready && this.datapath.state === 'up' ? 1 : 0);
  }

  /** `p`, or the stop's reason as soon as the daemon stops (what `p` does then is left behind). */
  private untilStopped<T>(p: Promise<T>): Promise<T> {
    const signal = this.abort.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async startUp(): Promise<void> {
    const { flags } = this;
    if (flags.healthzPort > 0) {
      try {
        this.health = await HealthServer.start(
          flags.healthzIp,
          flags.healthzPort,
          { liveness: () => this.liveness(), readiness: () => this.readiness() },
          this.metrics.registry,
        );
      } catch (err) {
        throw new OverlaydError(
          'BAD_FLAG',
          `--healthz-port: cannot listen on ${flags.healthzIp}:${flags.healthzPort} (${(err as NodeJS.ErrnoException).code}); pick a free port`,
          { cause: err },
        );
      }
      this.log.info(
        { addr: `${flags.healthzIp}:${flags.healthzPort}` },
        'health and metrics server listening',
      );
    }
    this.status = await openStatusSocket(
      {
        flags,
        registry: this.metrics.registry,
        config: () => this.config,
        lease: () => this.leases?.lease,
        peers: () => this.watch?.peers() ?? [],
        ready: () => this.ready,
      },
      this.peerLog,
      this.log,
    );
    const { registry, warning } = openEtcdRegistry(flags.etcdPrefix, {
      endpoints: flags.etcdEndpoints,
      cafile: flags.etcdCafile,
      certfile: flags.etcdCertfile,
      keyfile: flags.etcdKeyfile,
      username: flags.etcdUsername,
      password: flags.etcdPassword,
      prefix: flags.etcdPrefix,
      onTlsReload: (r) => (r.ok ? this.log.info(r.message) : this.log.error(r.message)),
    });
    if (warning) this.log.warn(warning);
    this.registry = registry;

    const cfg = await waitForConfig(
      registry,
      flags.netConfigPath,
      componentLogger(this.rootLog, 'config'),
      (e) => {
        if (e.code === 'BAD_CONFIG') this.metrics.configErrors.inc();
        if (e.code === 'ETCD') this.metrics.etcdErrors.inc({ op: 'config' });
      },
      this.abort.signal,
    );
    if (!cfg) return;
    const config = cfg.config;
    this.config = config;
    this.log.info(
      { network: formatCidr(config.network), subnetLen: config.subnetLen, backend: config.backendType },
      'network config loaded',
    );

    if (!config.enableNFTables) {
      const warn = brNetfilterWarning();
      if (warn) this.log.warn(warn);
    }
    const ext = selectInterface((this.deps.hostView ?? readHostView)(), {
      iface: flags.iface,
      ifaceRegex: flags.ifaceRegex,
      publicIp: flags.publicIp,
      publicIpv6: flags.publicIpv6,
      ipv6: config.ipv6 !== undefined,
      ...(flags.ifaceCanReach
        ? { canReach: { addr: flags.ifaceCanReach, route: routeTo(flags.ifaceCanReach) } }
        : {}),
    });
    this.log.info(
      {
        iface: ext.name,
        ifaceAddr: ext.ifaceAddr,
        publicIp: ext.publicIp,
        ...(ext.publicIpv6 ? { ifaceV6Addr: ext.ifaceV6Addr, publicIpv6: ext.publicIpv6 } : {}),
        mtu: ext.mtu,
        why: ext.reason,
      },
      'external interface selected',
    );

    const loadBackend = BACKENDS[config.backendType];
    if (!loadBackend) {
      throw new OverlaydError(
        'BACKEND',
        `backend "${config.backendType}" is not available in this build; use one of ${Object.keys(BACKENDS).join(', ')}`,
      );
    }
    // Parse the backend's modules while etcd answers.
    const [factory, previousLease] = await this.untilStopped(
      Promise.all([loadBackend(), this.findOwnLease(registry, ext.publicIp)]),
    );
    const backend = factory({
      config,
      extIface: ext,
      ...(previousLease ? { previousLease } : {}),
      log: componentLogger(this.rootLog, `backend-${config.backendType}`),
      metrics: this.metrics.registry,
      reportHealth: (h) => this.onBackendHealth(h),
      peerSet: () => (this.peersListed ? this.watch?.peers() : undefined),
      options: {
        tunName: flags.tunName,
        udpOffloads: flags.udpOffloads,
        udpSg: flags.udpSg,
        vxlanDatapath: flags.vxlanDatapath,
        udpBatch: flags.udpBatch,
        udpWorkers: flags.udpWorkers,
        udpQueues: flags.udpQueues,
      },
    });
    this.backend = backend;
    this.registering = backend.register();
    const reg = await this.untilStopped(this.registering as Promise<Registration>);
    this.registering = undefined;

    const lease = await this.acquireLease(registry, config, ext, reg);
    if (!lease || this.abort.signal.aborted) return;
    await backend.start(lease);
    if (this.abort.signal.aborted) return;
    await this.setupTrafficRules(config, lease);
    await this.writeSubnetEnv(config, lease, reg.mtu);
    this.setReady(true);
    try {
      if (sdNotify('READY=1', this.deps.env)) this.log.info('told systemd READY=1');
    } catch (err) {
      this.log.warn({ err: describeError(err) }, 'sd_notify READY=1 failed');
    }
    if (this.abort.signal.aborted) return;
    await this.startPeerWatch(registry, backend);
    if (this.abort.signal.aborted) return;
    this.leaseMove = new LeaseMove({
      signal: this.abort.signal,
      pass: () => this.moveLease(config, reg.mtu),
      setReady: (r) => this.setReady(r),
      onFailure: (err, retryInMs) =>
        this.log.error(
          { code: (err as OverlaydError).code, retryInMs },
          `moving to a new lease failed: ${describeError(err)}; not ready, retrying with backoff`,
        ),
    });
    await this.keepLease(this.leases!);
    this.watchConfig(registry, cfg.text);
  }

  /** The lease etcd holds for our PublicIP, if any (a restart; vxlan keeps its VtepMAC). */
  private async findOwnLease(registry: LeaseRegistry, publicIp: string): Promise<Lease | undefined> {
    try {
      const ip = parseIpv4(publicIp);
      return (await registry.listLeases()).leases.find((l) => l.attrs.publicIp === ip);
    } catch {
      return undefined; // etcd down: acquisition will wait for it anyway
    }
  }

  private async acquireLease(
    registry: LeaseRegistry,
    config: NetworkConfig,
    ext: ExternalInterface,
    reg: Registration,
  ): Promise<Lease | undefined> {
    const previous = await this.untilStopped(readSubnetFile(this.flags.subnetFile));
    this.leaseAttrs = {
      publicIp: parseIpv4(ext.publicIp)!,
      ...(config.ipv6 && ext.publicIpv6 ? { publicIpv6: parseIpv6(ext.publicIpv6)! } : {}),
      // flannel's udp backend publishes no BackendType; keep that so flanneld peers parse us alike.
      ...(reg.backendType && reg.backendType !== 'udp' ? { backendType: reg.backendType } : {}),
      ...(reg.backendData !== undefined ? { backendData: reg.backendData } : {}),
      ...(reg.backendV6Data !== undefined ? { backendV6Data: reg.backendV6Data } : {}),
    };
    this.leases = this.newLeaseManager(
      registry,
      config,
      previous.subnet
        ? { subnet: previous.subnet, ...(previous.ipv6Subnet ? { ipv6Subnet: previous.ipv6Subnet } : {}) }
        : undefined,
    );
    return this.acquireUntilDone(this.leases);
  }

  private newLeaseManager(
    registry: LeaseRegistry,
    config: NetworkConfig,
    previousSubnets?: LeaseSubnets,
  ): LeaseManager {
    return new LeaseManager({
      registry,
      config,
      attrs: this.leaseAttrs!,
      log: componentLogger(this.rootLog, 'lease'),
      renewMarginSeconds: this.flags.subnetLeaseRenewMargin * 60,
      ...(previousSubnets ? { previousSubnets } : {}),
    });
  }

  /** Retries acquisition with capped exponential backoff (out of subnets, etcd down, lost races). */
  private async acquireUntilDone(leases: LeaseManager): Promise<Lease | undefined> {
    let delay = 500;
    let lastProblem = '';
    while (!this.abort.signal.aborted) {
      try {
        const lease = await leases.acquire(this.abort.signal);
        this.metrics.leaseExpiration.set((lease.expiration?.getTime() ?? 0) / 1000);
        this.log.info(
          {
            subnet: formatCidr(lease.subnet),
            publicIp: formatIpv4(lease.attrs.publicIp),
            ...(lease.ipv6Subnet ? { ipv6Subnet: formatCidr6(lease.ipv6Subnet) } : {}),
          },
          'lease acquired',
        );
        return lease;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        const problem = describeError(err);
        if ((err as OverlaydError).code === 'ETCD') this.metrics.etcdErrors.inc({ op: 'acquire' });
        if (problem !== lastProblem)
          this.log.error({ code: (err as OverlaydError).code }, `${problem} (retrying with backoff)`);
        lastProblem = problem;
        await realSleep(delay, this.abort.signal);
        delay = Math.min(delay * 2, 30_000);
      }
    }
    return undefined;
  }

  private async setupTrafficRules(config: NetworkConfig, lease: Lease): Promise<void> {
    this.iptables = await applyTrafficRules(this.flags, config, lease, this.iptables, {
      log: this.log,
      iptablesLog: componentLogger(this.rootLog, 'iptables'),
      onResync: () => this.metrics.iptablesResyncs.inc(),
    });
  }

  private async writeSubnetEnv(config: NetworkConfig, lease: Lease, mtu: number): Promise<void> {
    await writeSubnetFile(this.flags.subnetFile, {
      network: config.network,
      subnet: lease.subnet,
      ...(config.ipv6 && lease.ipv6Subnet
        ? { ipv6: { network: config.ipv6.network, subnet: lease.ipv6Subnet } }
        : {}),
      mtu,
      ipMasq: this.flags.ipMasq,
    });
    this.log.info(
      {
        path: this.flags.subnetFile,
        subnet: formatCidr(lease.subnet),
        ...(lease.ipv6Subnet ? { ipv6Subnet: formatCidr6(lease.ipv6Subnet) } : {}),
        mtu,
      },
      'subnet file written',
    );
  }

  private async startPeerWatch(registry: LeaseRegistry, backend: Backend): Promise<void> {
    this.watch = createPeerSync({
      registry,
      backend: this.peerLog.track(backend),
      metrics: this.metrics,
      log: componentLogger(this.rootLog, 'peers'),
      ownSubnet: () => this.leases?.lease?.subnet,
      ...(this.leaseAttrs ? { ownPublicIp: this.leaseAttrs.publicIp } : {}),
      ...(this.leaseAttrs?.publicIpv6 !== undefined ? { ownPublicIpv6: this.leaseAttrs.publicIpv6 } : {}),
      // Back from an outage: make sure our own lease survived it (etcd may have lost its data, or
      // our lease expired and the subnet went to someone else).
      onReconnect: () => void this.leases?.check(),
    });
    await this.watch.start();
    this.peersListed = true;
  }

  /** /healthz: the process answers and its datapath is not down. */
  private liveness(): ProbeResult {
    const d = this.datapath;
    return d.state === 'up' ? { ok: true, reason: 'overlayd is running' } : { ok: false, reason: d.text };
  }

  /** /readyz: start-up is done (subnet.env written) and the datapath is not down. */
  private readiness(): ProbeResult {
    if (!this.ready) return { ok: false, reason: 'overlayd is not ready yet' };
    return this.datapath.state === 'up' ? { ok: true, reason: 'overlayd is ready' } : this.liveness();
  }

  /** The backend's datapath went down, came back, or cannot be repaired (then we exit non-zero). */
  private onBackendHealth(h: BackendHealth): void {
    this.datapath = h;
    if (h.state !== 'up' && h.fault) this.metrics.datapathFailures.inc({ reason: h.fault });
    this.metrics.ready.set(this.ready && h.state === 'up' ? 1 : 0);
    if (h.state === 'failed' && !this.abort.signal.aborted) {
      this.log.fatal(`${h.text}; exiting non-zero for the supervisor to restart overlayd`);
      this.exitCode = 1;
      void this.stop('datapath failed');
    }
  }

  /** Renewal, checks and the watch of our key; events of a manager we replaced are ignored. */
  private async keepLease(leases: LeaseManager): Promise<void> {
    const current = (): boolean => leases === this.leases && !this.abort.signal.aborted;
    leases.on('renewed', (l) => {
      this.metrics.leaseRenewals.inc();
      this.metrics.leaseExpiration.set((l.expiration?.getTime() ?? 0) / 1000);
    });
    leases.on('etcd-error', (op) => this.metrics.etcdErrors.inc({ op }));
    leases.on('revoked', () => {
      if (current()) void this.stop('lease revoked');
    });
    leases.on('conflict', ({ subnet, holder }) => {
      if (current()) this.onConflict(formatCidr(subnet), formatIpv4(holder));
    });
    await leases.keepAlive();
  }

  /** Our subnet was taken while we were away (partition, expired lease): move, and say so loudly. */
  private onConflict(subnet: string, holder: string): void {
    this.metrics.leaseConflicts.inc();
    this.log.error(
      { subnet, holder },
      `subnet ${subnet} is now leased to ${holder}: taking a new lease; PODS ON THIS NODE MUST BE RESTARTED to get addresses in the new subnet`,
    );
    void this.leaseMove?.request();
  }

  /** One pass of a move (LeaseMove retries it): every step again, so a retry repairs any of them. */
  private async moveLease(config: NetworkConfig, mtu: number): Promise<void> {
    await this.leases?.stop();
    const leases = this.newLeaseManager(this.registry!, config);
    this.leases = leases;
    const lease = await this.acquireUntilDone(leases);
    if (!lease) return; // stopping
    await this.backend!.start(lease);
    await this.setupTrafficRules(config, lease);
    await this.writeSubnetEnv(config, lease, mtu);
    await this.keepLease(leases);
    // The old subnet now belongs to a peer and ours must leave the peer set: re-list.
    await this.watch?.resync('own-lease-moved');
  }

  /**
   * flanneld reads the config once. We poll it so an operator learns at once that an edit is
   * invalid (logged, counted) — but the running network keeps the config it started with.
   */
  private watchConfig(registry: LeaseRegistry, running: string): void {
    let last = running;
    const timer = setInterval(async () => {
      const r = await readConfigOnce(registry, this.flags.netConfigPath);
      const text = r.ok ? r.text : describeError(r.error);
      if (text === last) return;
      last = text;
      if (!r.ok) {
        if (r.error.code === 'BAD_CONFIG') this.metrics.configErrors.inc();
        if (r.error.code !== 'ETCD')
          this.log.error(
            { code: r.error.code },
            `network config changed and is now unusable: ${describeError(r.error)}; the running network keeps its config`,
          );
      } else if (r.text !== running) {
        this.log.warn(
          'network config changed; restart overlayd to apply it (the running network keeps its config)',
        );
      }
    }, 10_000);
    timer.unref();
    this.abort.signal.addEventListener('abort', () => clearInterval(timer));
  }
}

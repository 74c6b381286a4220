/**
 * `overlayd diagnose`: gathers every fact (etcd, files, kernel, host, the daemon's socket, probes
 * through the datapath), evaluates them and prints the checks, failures first. It takes the
 * daemon's flags and FLANNELD_* environment, so it looks at the same etcd, prefix, subnet file and
 * interface, and works whether the daemon runs or not.
 */
import { hostname } from 'node:os';
import type { Flags } from '../daemon/flags.js';
import { formatCidr } from '../core/ipv4.js';
import { exitCodeOf } from './check.js';
import { buildContext } from './context.js';
import { evaluate } from './evaluate.js';
import type { DaemonFacts, Facts, PeerProbe } from './facts.js';
import { gatherCluster, gatherLocal } from './gather-cluster.js';
import { disableChecksumOffload, gatherHost } from './gather-host.js';
import { gatherKernel } from './gather-kernel.js';
import { probePeers } from './probes.js';
import { renderJson, renderTable } from './report.js';
import { fetchStatus } from './status-client.js';

export interface DiagnoseOptions {
  readonly json: boolean;
  readonly probes: boolean;
  readonly fixChecksumOffload: boolean;
}

async function gatherDaemon(socket: string): Promise<DaemonFacts> {
  if (socket === '')
    return { running: false, socket: '(--status-socket "")', error: 'status socket disabled' };
  const r = await fetchStatus(socket);
  return r.ok ? { running: true, ready: r.status.ready, socket } : { running: false, socket, error: r.error };
}

export async function gatherFacts(
  flags: Flags,
  opts: DiagnoseOptions,
  say: (line: string, failed?: boolean) => void,
): Promise<Facts> {
  const [daemon, cluster, local] = await Promise.all([
    gatherDaemon(flags.statusSocket),
    gatherCluster(flags),
    gatherLocal(flags),
  ]);
  const expect = { iptablesForwardRules: flags.iptablesForwardRules, tunName: flags.tunName };
  let kernel = gatherKernel();
  const partial: Facts = {
    cluster,
    local,
    kernel,
    daemon,
    expect,
    host: { rpFilter: {}, iptables: {}, kernelRelease: '' },
  };
  let ctx = buildContext(partial);
  if (opts.fixChecksumOffload) {
    if (ctx.backend !== 'vxlan' || !ctx.device)
      say('--fix-checksum-offload: no vxlan device here; nothing changed');
    else {
      const err = await disableChecksumOffload(ctx.device.name);
      if (err) say(`--fix-checksum-offload failed: ${err}`, true);
      else say(`applied: ethtool -K ${ctx.device.name} tx-checksum-ip-generic off`);
      kernel = gatherKernel();
      ctx = buildContext({ ...partial, kernel });
    }
  }
  // Host settings and the probes are independent child processes: gather them side by side.
  const hostFacts = gatherHost(
    kernel.links.map((l) => l.name),
    ctx.backend === 'vxlan' ? ctx.device?.name : undefined,
  );
  let probes: Promise<PeerProbe[]> | undefined;
  const datapath = ctx.backend === 'host-gw' || ctx.device !== undefined;
  if (opts.probes && ctx.backend && ctx.backend !== 'alloc' && datapath && !kernel.error) {
    const podMtu = Number(local.subnetEnv?.['FLANNEL_MTU'] ?? ctx.expectedMtu ?? 1500);
    const targets = ctx.peers.map((lease) => ({
      lease,
      // vxlan/udp: the peer's overlay device holds <subnet>.0; host-gw: its cni0 gateway <subnet>.1.
      target: ctx.backend === 'host-gw' ? lease.subnet.ip + 1 : lease.subnet.ip,
    }));
    probes = probePeers(targets, ctx.deviceName, podMtu, ctx.device?.mtu ?? podMtu);
  }
  const [host, probed] = await Promise.all([hostFacts, probes]);
  return { cluster, local, kernel, host, daemon, expect, ...(probed ? { probes: probed } : {}) };
}

export async function runDiagnose(
  flags: Flags,
  opts: DiagnoseOptions,
  write: (s: string) => void,
): Promise<number> {
  const actions: string[] = [];
  let repairFailed = false;
  const facts = await gatherFacts(flags, opts, (l, failed) => {
    actions.push(l);
    repairFailed ||= failed === true;
  });
  const checks = evaluate(facts);
  const ctx = buildContext(facts);
  const header = {
    node: hostname(),
    ...(ctx.backend ? { backend: ctx.backend } : {}),
    ...(ctx.own ? { subnet: formatCidr(ctx.own.subnet) } : {}),
    ...(actions.length ? { actions } : {}),
  };
  // A repair that was asked for and failed is a failure of the run, whatever the checks say.
  const code = repairFailed ? 1 : exitCodeOf(checks);
  if (opts.json) write(renderJson(checks, header, code));
  else
    write(
      (actions.length ? actions.join('\n') + '\n\n' : '') +
        renderTable(checks, header, process.stdout.columns || 110, code),
    );
  return code;
}

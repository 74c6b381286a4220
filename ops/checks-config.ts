/**
 * Control-plane checks: etcd answers, the network config is valid, our lease exists, is ours and
 * matches subnet.env, no two leases share a PublicIP, no lease of another backend type, and
 * whether the daemon answers on its status socket. Pure: facts in, checks out.
 */
import { formatCidr, formatIpv4, sameNet } from '../core/ipv4.js';
import { subnetKeyOf } from '../core/subnet-key.js';
import type { Lease } from '../core/lease.js';
import { fail, ok, warn, type Check } from './check.js';
import type { Context } from './context.js';
import type { Facts } from './facts.js';

const leaseKey = (f: Facts, l: Lease): string => `${f.cluster.subnetsPrefix}${subnetKeyOf(l.subnet)}`;

export function checkConfig(f: Facts, ctx: Context): Check[] {
  const out: Check[] = [];
  const { cluster, local } = f;
  if (cluster.etcdError) {
    out.push(
      fail(
        'config',
        'etcd.reachable',
        'etcd answers',
        `${cluster.etcdEndpoints.join(',')}: ${cluster.etcdError}`,
        `check etcd and --etcd-endpoints (etcdctl --endpoints=${cluster.etcdEndpoints[0] ?? ''} endpoint health)`,
      ),
    );
  } else {
    out.push(ok('config', 'etcd.reachable', 'etcd answers', `${cluster.etcdEndpoints.join(',')} answered`));
  }
  if (cluster.config) {
    out.push(
      ok(
        'config',
        'config.valid',
        'network config',
        `Network ${formatCidr(cluster.config.network)}, /${cluster.config.subnetLen} subnets, backend ${cluster.config.backendType}`,
      ),
    );
  } else if (!cluster.etcdError) {
    out.push(
      fail(
        'config',
        'config.valid',
        'network config',
        cluster.configError ?? `no config at ${cluster.configKey}`,
        `etcdctl put ${cluster.configKey} '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
      ),
    );
  }
  if (local.ifaceError || !local.iface) {
    out.push(
      fail(
        'config',
        'iface',
        'external interface',
        local.ifaceError ?? 'none found',
        'pass --iface=<name or IP> (or --iface-regex) naming the interface other nodes reach',
      ),
    );
  }
  if (cluster.etcdError || !local.iface) return out;
  out.push(...leaseChecks(f, ctx), ...duplicateChecks(f, ctx), ...backendTypeChecks(f, ctx));
  const route = ifaceRouteCheck(f, ctx);
  if (route) out.push(route);
  if (cluster.malformed.length > 0) {
    const m = cluster.malformed[0]!;
    out.push(
      warn(
        'lease',
        'lease.malformed',
        'lease entries readable',
        `${cluster.malformed.length} unusable key(s) under ${cluster.subnetsPrefix}, e.g. ${m.key}: ${m.reason}`,
        `etcdctl del ${m.key}`,
      ),
    );
  }
  return out;
}

function leaseChecks(f: Facts, ctx: Context): Check[] {
  const pub = formatIpv4(f.local.iface!.publicIp);
  const { own, envSubnet } = ctx;
  const out: Check[] = [];
  if (!own) {
    out.push(
      fail(
        'lease',
        'lease.own',
        'our lease in etcd',
        `no lease under ${f.cluster.subnetsPrefix} has PublicIP ${pub}`,
        f.daemon.running
          ? `check --public-ip/--iface: the daemon runs but no lease carries ${pub}`
          : 'start overlayd (systemctl start overlayd); it acquires a lease',
      ),
    );
  } else {
    const exp = own.expiration ? `, expires ${own.expiration.toISOString()}` : '';
    out.push(
      ok('lease', 'lease.own', 'our lease in etcd', `${formatCidr(own.subnet)} holds PublicIP ${pub}${exp}`),
    );
  }
  const env = f.local.subnetEnv;
  if (!env) {
    out.push(
      fail(
        'lease',
        'lease.subnet_env',
        'subnet.env matches the lease',
        `${f.local.subnetFile}: ${f.local.subnetEnvError ?? 'missing'} (the CNI plugin cannot attach pods)`,
        'start overlayd (it writes the file once ready); its first error log line says what stops it',
      ),
    );
    return out;
  }
  const problems: string[] = [];
  const net = f.cluster.config?.network;
  if (net && env['FLANNEL_NETWORK'] !== formatCidr(net))
    problems.push(`FLANNEL_NETWORK=${env['FLANNEL_NETWORK'] ?? '(none)'} but Network is ${formatCidr(net)}`);
  if (own && (!envSubnet || !sameNet(envSubnet, own.subnet)))
    problems.push(
      `FLANNEL_SUBNET=${env['FLANNEL_SUBNET'] ?? '(none)'} but our lease is ${formatCidr(own.subnet)}`,
    );
  if (!own && envSubnet) {
    const holder = f.cluster.leases.find((l) => sameNet(l.subnet, envSubnet));
    if (holder && holder.attrs.publicIp !== f.local.iface!.publicIp)
      problems.push(
        `FLANNEL_SUBNET=${env['FLANNEL_SUBNET']} is leased to ${formatIpv4(holder.attrs.publicIp)}, not to us`,
      );
  }
  if (
    ctx.expectedMtu !== undefined &&
    env['FLANNEL_MTU'] !== undefined &&
    Number(env['FLANNEL_MTU']) > ctx.expectedMtu
  )
    problems.push(`FLANNEL_MTU=${env['FLANNEL_MTU']} exceeds the ${ctx.expectedMtu} the underlay allows`);
  if (problems.length > 0) {
    out.push(
      fail(
        'lease',
        'lease.subnet_env',
        'subnet.env matches the lease',
        problems.join('; '),
        'restart overlayd (systemctl restart overlayd: it rewrites subnet.env from the lease), then recreate the pods on this node',
      ),
    );
  } else {
    out.push(
      ok(
        'lease',
        'lease.subnet_env',
        'subnet.env matches the lease',
        `${f.local.subnetFile}: FLANNEL_SUBNET=${env['FLANNEL_SUBNET'] ?? '?'} FLANNEL_MTU=${env['FLANNEL_MTU'] ?? '?'}`,
      ),
    );
  }
  return out;
}

function duplicateChecks(f: Facts, ctx: Context): Check[] {
  const byIp = new Map<number, Lease[]>();
  for (const l of f.cluster.leases) byIp.set(l.attrs.publicIp, [...(byIp.get(l.attrs.publicIp) ?? []), l]);
  const dups = [...byIp.values()].filter((ls) => ls.length > 1);
  if (dups.length === 0)
    return [
      ok(
        'lease',
        'lease.duplicate_public_ip',
        'one lease per PublicIP',
        `${f.cluster.leases.length} leases, all PublicIPs distinct`,
      ),
    ];
  return dups.map((ls) => {
    const ip = formatIpv4(ls[0]!.attrs.publicIp);
    // The lease in use is the one subnet.env names on that node; for ourselves we know which.
    const inUse = ctx.own && ls[0]!.attrs.publicIp === ctx.own.attrs.publicIp ? ctx.own : undefined;
    const extra = ls.filter((l) => l !== inUse);
    return fail(
      'lease',
      `lease.duplicate_public_ip.${ip}`,
      'one lease per PublicIP',
      `${ls.length} leases claim PublicIP ${ip}: ${ls.map((l) => formatCidr(l.subnet)).join(', ')} (peers route only one of them)`,
      inUse
        ? `etcdctl del ${extra.map((l) => leaseKey(f, l)).join(' ')}`
        : `on the node with ${ip}, keep the subnet its subnet.env names and etcdctl del the other key(s): ${ls.map((l) => leaseKey(f, l)).join(' ')}`,
    );
  });
}

function backendTypeChecks(f: Facts, ctx: Context): Check[] {
  if (!ctx.backend || ctx.backend === 'alloc') return [];
  const typeOf = (l: Lease): string => l.attrs.backendType ?? 'udp';
  const other = f.cluster.leases.filter((l) => typeOf(l) !== ctx.backend);
  if (other.length === 0)
    return [
      ok(
        'lease',
        'lease.backend_type',
        'every lease uses our backend',
        `all ${f.cluster.leases.length} leases are ${ctx.backend}`,
      ),
    ];
  return [
    warn(
      'lease',
      'lease.backend_type',
      'every lease uses our backend',
      `${other.length} lease(s) of another backend, unreachable from here: ${other
        .slice(0, 3)
        .map((l) => `${formatCidr(l.subnet)} (${formatIpv4(l.attrs.publicIp)}, ${typeOf(l)})`)
        .join(', ')}`,
      `run every node with Backend.Type "${ctx.backend}" (restart the others' overlayd/flanneld), or etcdctl del ${leaseKey(f, other[0]!)} if that node is gone`,
    ),
  ];
}

export function checkDaemon(f: Facts): Check[] {
  const d = f.daemon;
  if (!d.running)
    return [
      warn(
        'daemon',
        'daemon.running',
        'overlayd answers on its status socket',
        `${d.socket}: ${d.error ?? 'no answer'} (kernel state is not being kept)`,
        'systemctl start overlayd (or check --status-socket)',
      ),
    ];
  if (!d.ready)
    return [
      fail(
        'daemon',
        'daemon.running',
        'overlayd answers on its status socket',
        `${d.socket}: running but not ready (no lease or subnet.env yet)`,
        'journalctl -u overlayd: the first error line says what it waits for',
      ),
    ];
  return [
    ok('daemon', 'daemon.running', 'overlayd answers on its status socket', `${d.socket}: running, ready`),
  ];
}

/** The main-table route the kernel would pick for `dst` (longest prefix; lowest protocol-agnostic). */
function routeFor(f: Facts, dst: number): { oif?: number } | undefined {
  let best: { dstLen: number; oif?: number } | undefined;
  for (const r of f.kernel.routes) {
    const mask = r.dstLen === 0 ? 0 : (0xffffffff << (32 - r.dstLen)) >>> 0;
    if ((dst & mask) >>> 0 !== r.dst || (best && best.dstLen >= r.dstLen)) continue;
    best = r;
  }
  return best;
}

/**
 * Wrong interface on a multi-NIC host (flannel#895): the peers' PublicIPs are routed out of another
 * interface than the one overlayd encapsulates on and advertises.
 */
function ifaceRouteCheck(f: Facts, ctx: Context): Check | undefined {
  const u = ctx.underlay;
  if (!u || ctx.peers.length === 0 || f.kernel.error) return undefined;
  const title = `peers reached over ${u.name}`;
  const elsewhere = new Map<string, string[]>();
  for (const p of ctx.peers) {
    const oif = routeFor(f, p.attrs.publicIp)?.oif;
    if (oif === undefined || oif === u.index) continue;
    const name = f.kernel.links.find((l) => l.index === oif)?.name ?? `ifindex ${oif}`;
    elsewhere.set(name, [...(elsewhere.get(name) ?? []), formatIpv4(p.attrs.publicIp)]);
  }
  if (elsewhere.size === 0)
    return ok(
      'config',
      'iface.route',
      title,
      `all ${ctx.peers.length} peer PublicIP(s) route out of ${u.name}`,
    );
  const [name, ips] = [...elsewhere][0]!;
  return warn(
    'config',
    'iface.route',
    title,
    `overlayd uses ${u.name} (${formatIpv4(f.local.iface!.publicIp)}) but the route to ${ips.slice(0, 3).join(', ')} leaves by ${name}: the wrong interface?`,
    `set --iface=${name} (FLANNELD_IFACE in /etc/default/overlayd) and restart overlayd, or fix the routes to the peers`,
  );
}

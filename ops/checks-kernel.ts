/**
 * Kernel state against the leases: the overlay device (vxlan: kind, VNI, port, local address, MTU,
 * MAC = our lease's VtepMAC; udp: the TUN up with its route), then per peer the entries the backend
 * programs (vxlan: neighbour, FDB, route; host-gw: route), then entries no lease wants (stale).
 * Every fix is the exact ip/bridge command, or a restart of overlayd, which reconciles all of them.
 */
import { parseVtep } from '../encap/vxlan-config.js';
import { containsIp, formatCidr, formatIpv4, type Ipv4Net } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import { fail, ok, type Check } from './check.js';
import type { Context } from './context.js';
import type { Facts, KernelRoute } from './facts.js';

/** overlayd's route protocol (encap/kernel/periodic.ts OVERLAYD_RTPROT). */
export const OVERLAYD_ROUTE_PROTOCOL = 77;

const RESTART = 'systemctl restart overlayd (it reconciles every entry)';

export function checkKernel(f: Facts, ctx: Context): Check[] {
  if (f.kernel.error)
    return [
      fail(
        'kernel',
        'kernel.read',
        'kernel state readable',
        f.kernel.error,
        "run overlayd diagnose as root in the node's network namespace",
      ),
    ];
  switch (ctx.backend) {
    case 'vxlan':
      return [...vxlanDevice(f, ctx), ...(ctx.device ? [...peerEntries(f, ctx), stale(f, ctx)] : [])];
    case 'host-gw':
      return [...peerEntries(f, ctx), stale(f, ctx)];
    case 'udp':
      return tunDevice(f, ctx);
    default:
      return [];
  }
}

function vxlanDevice(f: Facts, ctx: Context): Check[] {
  const name = ctx.deviceName!;
  const d = ctx.device;
  const title = `vxlan device ${name}`;
  if (!d)
    return [
      fail(
        'kernel',
        'kernel.device',
        title,
        `${name} does not exist`,
        f.daemon.running ? RESTART : 'start overlayd: it creates the device',
      ),
    ];
  const problems: string[] = [];
  const fixes: string[] = [];
  if (d.kind !== 'vxlan' || !d.vxlan) problems.push(`kind ${d.kind ?? 'unknown'}, not vxlan`);
  else {
    if (d.vxlan.vni !== ctx.vxlan!.vni) problems.push(`VNI ${d.vxlan.vni}, config says ${ctx.vxlan!.vni}`);
    if (d.vxlan.port !== ctx.vxlan!.port)
      problems.push(`UDP port ${d.vxlan.port}, config says ${ctx.vxlan!.port}`);
    const pub = f.local.iface?.publicIp;
    if (pub !== undefined && d.vxlan.local !== pub)
      problems.push(`local ${formatIpv4(d.vxlan.local)}, our PublicIP is ${formatIpv4(pub)}`);
  }
  if (!d.up) {
    problems.push('down');
    fixes.push(`ip link set ${name} up`);
  }
  if (ctx.expectedMtu !== undefined && d.mtu !== ctx.expectedMtu) {
    problems.push(`MTU ${d.mtu}, underlay allows ${ctx.expectedMtu}`);
    fixes.push(`ip link set ${name} mtu ${ctx.expectedMtu}`);
  }
  const vtep = parseVtep(ctx.own?.attrs.backendData);
  if (vtep && d.mac && vtep.mac !== d.mac.toLowerCase())
    problems.push(`MAC ${d.mac}, our lease publishes VtepMAC ${vtep.mac} (peers send to the wrong MAC)`);
  const own = ctx.own?.subnet;
  if (own && !d.addrs.some((a) => a.ip === own.ip && a.prefixLen === 32))
    problems.push(`address ${formatIpv4(own.ip)}/32 missing`);
  if (problems.length === 0)
    return [
      ok(
        'kernel',
        'kernel.device',
        title,
        `VNI ${d.vxlan!.vni}, port ${d.vxlan!.port}, MTU ${d.mtu}, MAC ${d.mac ?? '?'}, up`,
      ),
    ];
  // A wrong kind/VNI/port/local/MAC needs the device recreated, which the daemon does at start.
  const onlySettable = problems.every((p) => p === 'down' || p.startsWith('MTU'));
  return [
    fail('kernel', 'kernel.device', title, problems.join('; '), onlySettable ? fixes.join('; ') : RESTART),
  ];
}

interface Want {
  readonly lease: Lease;
  readonly route: { gateway: number; oif?: number };
  readonly neigh?: { ip: number; mac: string };
  readonly fdb?: { mac: string; dst: number };
}

/** What the backend programs for one peer (mirrors encap/vxlan and encap/host-gw). */
function wanted(f: Facts, ctx: Context, p: Lease): Want {
  const { ip } = p.subnet;
  if (ctx.backend === 'host-gw' || (ctx.vxlan?.directRouting && onOurL2(f, p.attrs.publicIp)))
    return { lease: p, route: { gateway: p.attrs.publicIp } };
  const mac = parseVtep(p.attrs.backendData)!.mac;
  const oif = ctx.device!.index;
  return { lease: p, route: { gateway: ip, oif }, neigh: { ip, mac }, fdb: { mac, dst: p.attrs.publicIp } };
}

/** A peer on the underlay's own prefix (DirectRouting's "no gateway" test, from the address). */
function onOurL2(f: Facts, ip: number): boolean {
  const u = f.kernel.links.find((l) => l.name === f.local.iface?.name);
  return !!u?.addrs.some((a) => containsIp({ ip: a.ip, prefixLen: a.prefixLen }, ip));
}

const routeCmd = (s: Ipv4Net, w: Want, dev: string): string =>
  w.route.oif !== undefined
    ? `ip route replace ${formatCidr(s)} via ${formatIpv4(w.route.gateway)} dev ${dev} onlink proto ${OVERLAYD_ROUTE_PROTOCOL}`
    : `ip route replace ${formatCidr(s)} via ${formatIpv4(w.route.gateway)} proto ${OVERLAYD_ROUTE_PROTOCOL}`;

function peerEntries(f: Facts, ctx: Context): Check[] {
  const dev = ctx.deviceName ?? '?';
  const checks: Check[] = [];
  for (const p of ctx.peers) {
    const w = wanted(f, ctx, p);
    const s = formatCidr(p.subnet);
    const missing: string[] = [];
    const fixes: string[] = [];
    const route = f.kernel.routes.find((r) => r.dst === p.subnet.ip && r.dstLen === p.subnet.prefixLen);
    if (
      !route ||
      route.gateway !== w.route.gateway ||
      (w.route.oif !== undefined && route.oif !== w.route.oif)
    ) {
      missing.push(
        route
          ? `route ${s} goes via ${route.gateway === undefined ? 'no gateway' : formatIpv4(route.gateway)}`
          : `route ${s}`,
      );
      fixes.push(routeCmd(p.subnet, w, dev));
    }
    if (w.neigh) {
      const n = f.kernel.neighs.find((x) => x.ifindex === ctx.device!.index && x.ip === w.neigh!.ip);
      if (!n || n.mac !== w.neigh.mac) {
        missing.push(
          n
            ? `neighbour ${formatIpv4(w.neigh.ip)} has MAC ${n.mac}, lease says ${w.neigh.mac}`
            : `neighbour ${formatIpv4(w.neigh.ip)}`,
        );
        fixes.push(
          `ip neigh replace ${formatIpv4(w.neigh.ip)} lladdr ${w.neigh.mac} dev ${dev} nud permanent`,
        );
      }
    }
    if (w.fdb) {
      const fd = f.kernel.fdbs.find(
        (x) => x.ifindex === ctx.device!.index && x.mac === w.fdb!.mac && x.dst === w.fdb!.dst,
      );
      if (!fd) {
        missing.push(`FDB ${w.fdb.mac} dst ${formatIpv4(w.fdb.dst)}`);
        fixes.push(`bridge fdb append ${w.fdb.mac} dev ${dev} dst ${formatIpv4(w.fdb.dst)} self permanent`);
      }
    }
    const title = `kernel entries for peer ${s}`;
    const id = `kernel.peer.${s}`;
    if (missing.length === 0) continue;
    checks.push(
      fail(
        'kernel',
        id,
        title,
        `missing or wrong for ${formatIpv4(p.attrs.publicIp)}: ${missing.join('; ')}`,
        f.daemon.running ? `${fixes.join('; ')} (or ${RESTART})` : fixes.join('; '),
      ),
    );
  }
  if (checks.length === 0)
    checks.push(
      ok(
        'kernel',
        'kernel.peers',
        'kernel entries for every peer',
        `${ctx.peers.length} peer(s): ${ctx.backend === 'vxlan' ? 'neighbour, FDB and route' : 'route'} present for each`,
      ),
    );
  return checks;
}

/** Entries for subnets no lease holds: routes of ours (protocol 77 or on our device), neighbours, FDB. */
function stale(f: Facts, ctx: Context): Check {
  const net = f.cluster.config!.network;
  const leased = (ip: number, len: number): boolean =>
    f.cluster.leases.some((l) => l.subnet.ip === ip && l.subnet.prefixLen === len);
  const dev = ctx.device;
  const found: string[] = [];
  const fixes: string[] = [];
  const ours = (r: KernelRoute): boolean =>
    r.protocol === OVERLAYD_ROUTE_PROTOCOL ||
    (ctx.backend === 'vxlan' && dev !== undefined && r.oif === dev.index);
  for (const r of f.kernel.routes) {
    if (!ours(r) || !containsIp(net, r.dst) || r.dstLen <= net.prefixLen || leased(r.dst, r.dstLen)) continue;
    if (ctx.own && r.dst === ctx.own.subnet.ip && r.dstLen === ctx.own.subnet.prefixLen) continue;
    const s = formatCidr({ ip: r.dst, prefixLen: r.dstLen });
    found.push(`route ${s}`);
    fixes.push(`ip route del ${s}${r.gateway !== undefined ? ` via ${formatIpv4(r.gateway)}` : ''}`);
  }
  if (ctx.backend === 'vxlan' && dev) {
    const wantNeigh = new Set(ctx.peers.map((p) => p.subnet.ip));
    for (const n of f.kernel.neighs) {
      if (n.ifindex !== dev.index || wantNeigh.has(n.ip)) continue;
      found.push(`neighbour ${formatIpv4(n.ip)}`);
      fixes.push(`ip neigh del ${formatIpv4(n.ip)} dev ${dev.name}`);
    }
    const wantFdb = new Set(
      ctx.peers.map((p) => `${parseVtep(p.attrs.backendData)!.mac}/${p.attrs.publicIp}`),
    );
    for (const e of f.kernel.fdbs) {
      if (e.ifindex !== dev.index || wantFdb.has(`${e.mac}/${e.dst}`)) continue;
      found.push(`FDB ${e.mac} dst ${formatIpv4(e.dst)}`);
      fixes.push(`bridge fdb del ${e.mac} dev ${dev.name} dst ${formatIpv4(e.dst)} self`);
    }
  }
  if (found.length === 0)
    return ok(
      'kernel',
      'kernel.stale',
      'no stale overlay entries',
      'every overlay route, neighbour and FDB entry belongs to a current lease',
    );
  return fail(
    'kernel',
    'kernel.stale',
    'no stale overlay entries',
    `${found.length} entr${found.length === 1 ? 'y' : 'ies'} for subnets no lease holds: ${found.slice(0, 4).join(', ')}${found.length > 4 ? ', …' : ''}`,
    fixes.slice(0, 4).join('; ') + (fixes.length > 4 ? ` (and ${fixes.length - 4} more; or ${RESTART})` : ''),
  );
}

function tunDevice(f: Facts, ctx: Context): Check[] {
  const name = ctx.deviceName!;
  const d = ctx.device;
  const net = f.cluster.config!.network;
  const title = `TUN ${name} and the network route`;
  if (!d)
    return [
      fail(
        'kernel',
        'kernel.device',
        title,
        `${name} does not exist (the udp datapath is not running)`,
        'systemctl start overlayd (or restart it: the TUN lives as long as the daemon)',
      ),
    ];
  const problems: string[] = [];
  const fixes: string[] = [];
  if (!d.up) {
    problems.push('down');
    fixes.push(`ip link set ${name} up`);
  }
  if (ctx.expectedMtu !== undefined && d.mtu !== ctx.expectedMtu) {
    problems.push(`MTU ${d.mtu}, underlay allows ${ctx.expectedMtu}`);
    fixes.push(`ip link set ${name} mtu ${ctx.expectedMtu}`);
  }
  const route = f.kernel.routes.find((r) => r.dst === net.ip && r.dstLen === net.prefixLen);
  if (!route || route.oif !== d.index) {
    problems.push(
      route ? `route ${formatCidr(net)} does not use ${name}` : `route ${formatCidr(net)} missing`,
    );
    fixes.push(`ip route replace ${formatCidr(net)} dev ${name}`);
  }
  if (problems.length === 0)
    return [
      ok('kernel', 'kernel.device', title, `${name} up, MTU ${d.mtu}, route ${formatCidr(net)} dev ${name}`),
    ];
  return [fail('kernel', 'kernel.device', title, problems.join('; '), fixes.join('; '))];
}

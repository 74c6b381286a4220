/**
 * MTU consistency along the path a pod packet takes: pod veth → cni0 → overlay device → underlay.
 * The overlay device and FLANNEL_MTU must equal underlay − encapsulation overhead (what the daemon
 * computed at start; a later underlay change leaves both too large, and big packets vanish), and
 * cni0 and the pods' veths must not exceed FLANNEL_MTU. Pure.
 */
import { fail, ok, warn, type Check } from './check.js';
import type { Context } from './context.js';
import type { Facts } from './facts.js';

export function checkMtu(f: Facts, ctx: Context): Check[] {
  const title = 'MTU from pods to the underlay';
  const u = ctx.underlay;
  const exp = ctx.expectedMtu;
  if (!u || exp === undefined || !ctx.backend) return [];
  const envMtu = f.local.subnetEnv?.['FLANNEL_MTU'];
  const fl = envMtu === undefined ? undefined : Number(envMtu);
  const cni = f.kernel.links.find((l) => l.name === 'cni0');
  const pods = cni ? f.kernel.links.filter((l) => l.master === cni.index) : [];
  const parts = [`${u.name} ${u.mtu}`];
  if (ctx.device && ctx.device !== u) parts.push(`${ctx.device.name} ${ctx.device.mtu}`);
  parts.push(`FLANNEL_MTU ${fl ?? '?'}`);
  if (cni) parts.push(`cni0 ${cni.mtu}`);
  if (pods.length) parts.push(`${pods.length} pod veth(s) ${[...new Set(pods.map((p) => p.mtu))].join('/')}`);
  const seen = parts.join(', ');
  const problems: string[] = [];
  let fix = '';
  if (ctx.device && ctx.device !== u && ctx.device.mtu > exp) {
    problems.push(`${ctx.device.name} MTU ${ctx.device.mtu} > ${exp} that ${u.name} (${u.mtu}) carries`);
    fix = `restore ${u.name}'s MTU (ip link set ${u.name} mtu ${ctx.device.mtu + (u.mtu - exp)}) or restart overlayd so FLANNEL_MTU becomes ${exp}, then recreate the pods`;
  }
  if (fl !== undefined && fl > exp) {
    problems.push(`FLANNEL_MTU ${fl} > ${exp}`);
    fix ||= `restart overlayd so FLANNEL_MTU becomes ${exp} (or raise ${u.name}'s MTU back), then recreate the pods`;
  }
  const limit = Math.min(fl ?? exp, exp);
  const big = [...(cni && cni.mtu > limit ? [cni] : []), ...pods.filter((p) => p.mtu > limit)];
  if (big.length) {
    problems.push(`${big.map((l) => `${l.name} ${l.mtu}`).join(', ')} > ${limit}`);
    fix ||= `recreate the pods (the CNI plugin gives them FLANNEL_MTU); for cni0: ip link set cni0 mtu ${limit}`;
  }
  if (problems.length) return [fail('mtu', 'mtu.consistent', title, `${problems.join('; ')} (${seen})`, fix)];
  if (ctx.device && ctx.device !== u && ctx.device.mtu < exp)
    return [
      warn(
        'mtu',
        'mtu.consistent',
        title,
        `${ctx.device.name} MTU ${ctx.device.mtu} < ${exp} possible (${seen})`,
        `restart overlayd to size ${ctx.device.name} to ${exp}`,
      ),
    ];
  return [ok('mtu', 'mtu.consistent', title, seen)];
}

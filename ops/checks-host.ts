/**
 * Host settings that silently break pod traffic (flannel's most reported problems): IP forwarding,
 * strict reverse-path filtering on the overlay devices, br_netfilter and bridge-nf-call-iptables,
 * a FORWARD policy of DROP without accept rules for the network, rules split between
 * iptables-legacy and iptables-nft, a full conntrack table, and the VXLAN checksum-offload bug.
 * Pure: facts in, checks out.
 */
import { checkSaved, forwardRules } from '../sys/iptables-rules.js';
import { formatCidr } from '../core/ipv4.js';
import { fail, ok, warn, type Check } from './check.js';
import { sysctlDev, type Context } from './context.js';
import type { Facts } from './facts.js';

export function checkHost(f: Facts, ctx: Context): Check[] {
  const out: Check[] = [ipForward(f)];
  out.push(...rpFilter(f, ctx));
  out.push(brNetfilter(f));
  const fwd = forwardPolicy(f);
  if (fwd) out.push(fwd);
  const both = iptablesVariants(f);
  if (both) out.push(both);
  const ct = conntrack(f);
  if (ct) out.push(ct);
  if (ctx.backend === 'vxlan' && ctx.device) out.push(checksumOffload(f, ctx.device.name));
  return out;
}

function ipForward(f: Facts): Check {
  const v = f.host.ipForward;
  if (v === '1') return ok('host', 'host.ip_forward', 'IP forwarding', 'net.ipv4.ip_forward = 1');
  return fail(
    'host',
    'host.ip_forward',
    'IP forwarding',
    `net.ipv4.ip_forward = ${v ?? 'unreadable'}: this node does not forward pod traffic`,
    'sysctl -w net.ipv4.ip_forward=1 (and net.ipv4.ip_forward = 1 in /etc/sysctl.d/)',
  );
}

/** The kernel applies max(conf.all, conf.<dev>); 1 is strict. */
function rpFilter(f: Facts, ctx: Context): Check[] {
  const all = Number(f.host.rpFilter['all'] ?? 0);
  const devs = [ctx.backend !== 'host-gw' ? ctx.deviceName : undefined, 'cni0'].filter(
    (d): d is string => d !== undefined && f.host.rpFilter[d] !== undefined,
  );
  const strict = devs.filter((d) => Math.max(all, Number(f.host.rpFilter[d])) === 1);
  if (devs.length === 0) return [];
  if (strict.length === 0)
    return [
      ok(
        'host',
        'host.rp_filter',
        'reverse-path filter on overlay devices',
        devs.map((d) => `${d}=${f.host.rpFilter[d]}`).join(', ') + `, all=${all}`,
      ),
    ];
  return [
    warn(
      'host',
      'host.rp_filter',
      'reverse-path filter on overlay devices',
      `rp_filter is strict (1) on ${strict.join(', ')}${all === 1 ? ' (from conf.all)' : ''}: packets whose source routes elsewhere (NodePort without SNAT, egress gateways, a peer whose route is missing) are dropped`,
      strict.map((d) => `sysctl -w net.ipv4.conf.${sysctlDev(d)}.rp_filter=2`).join('; ') +
        (all === 1 ? '; sysctl -w net.ipv4.conf.all.rp_filter=2' : ''),
    ),
  ];
}

function brNetfilter(f: Facts): Check {
  const v = f.host.bridgeNfCallIptables;
  const title = 'br_netfilter and bridge-nf-call-iptables';
  if (v === undefined)
    return warn(
      'host',
      'host.br_netfilter',
      title,
      '/proc/sys/net/bridge is absent: br_netfilter is not loaded, so pod-to-pod traffic on cni0 skips iptables (NetworkPolicy, kube-proxy hairpin)',
      'modprobe br_netfilter; echo br_netfilter > /etc/modules-load.d/br_netfilter.conf (unless the node is rootless)',
    );
  if (v !== '1')
    return warn(
      'host',
      'host.br_netfilter',
      title,
      `net.bridge.bridge-nf-call-iptables = ${v}: bridged pod traffic skips iptables (NetworkPolicy, kube-proxy Services between pods of one node)`,
      'sysctl -w net.bridge.bridge-nf-call-iptables=1 (and in /etc/sysctl.d/)',
    );
  return ok(
    'host',
    'host.br_netfilter',
    title,
    'br_netfilter loaded, net.bridge.bridge-nf-call-iptables = 1',
  );
}

function forwardPolicy(f: Facts): Check | undefined {
  const cfg = f.cluster.config;
  const save = f.host.iptables.filterSave;
  const title = 'FORWARD chain lets the network through';
  if (save === undefined) {
    if (!f.host.iptables.error) return undefined;
    return warn(
      'host',
      'host.forward',
      title,
      `iptables-save: ${f.host.iptables.error}`,
      'apt-get install iptables (overlayd keeps its FORWARD rules with it)',
    );
  }
  const policy = /^:FORWARD (\S+)/m.exec(save)?.[1] ?? 'ACCEPT';
  if (!cfg) return undefined;
  const n = formatCidr(cfg.network);
  const c = checkSaved(save, forwardRules(cfg.network));
  const ours = c.jump && c.missing === 0;
  // Someone else's plain accept rules for the network count as well.
  const lines = save.split('\n');
  const plain = ['-s', '-d'].every((dir) =>
    lines.some((l) => l.startsWith('-A FORWARD ') && l.includes(` ${dir} ${n} `) && /-j ACCEPT\s*$/.test(l)),
  );
  if (policy !== 'ACCEPT' && !ours && !plain)
    return fail(
      'host',
      'host.forward',
      title,
      `FORWARD policy ${policy} and no accept rules for ${n} (FLANNEL-FWD ${c.jump ? `has ${c.missing} rule(s) missing` : 'not jumped to'}): traffic between nodes' pods is dropped`,
      f.daemon.running
        ? `restart overlayd with --iptables-forward-rules=true, or: iptables -A FORWARD -s ${n} -j ACCEPT; iptables -A FORWARD -d ${n} -j ACCEPT`
        : `iptables -A FORWARD -s ${n} -j ACCEPT; iptables -A FORWARD -d ${n} -j ACCEPT (overlayd --iptables-forward-rules adds them)`,
    );
  if (f.expect.iptablesForwardRules && f.daemon.running && !ours)
    return warn(
      'host',
      'host.forward',
      title,
      `FORWARD policy ${policy}; overlayd's FLANNEL-FWD rules for ${n} are missing though --iptables-forward-rules is on`,
      'wait one --iptables-resync period or restart overlayd; check that nothing else flushes FORWARD',
    );
  return ok(
    'host',
    'host.forward',
    title,
    `FORWARD policy ${policy}${ours ? ', FLANNEL-FWD accepts ' + n : plain ? `, accept rules for ${n}` : ''}`,
  );
}

function iptablesVariants(f: Facts): Check | undefined {
  const { legacyRules, nftRules } = f.host.iptables;
  if (legacyRules === undefined || nftRules === undefined) return undefined;
  const title = 'one iptables backend holds the rules';
  if (legacyRules > 0 && nftRules > 0)
    return warn(
      'host',
      'host.iptables_variants',
      title,
      `iptables-legacy holds ${legacyRules} rule(s) and iptables-nft ${nftRules}: both run, and tools using one never see the other's (a DROP there is invisible here)`,
      'pick one (update-alternatives --set iptables /usr/sbin/iptables-nft) and flush the other: iptables-legacy -F; iptables-legacy -t nat -F',
    );
  return ok('host', 'host.iptables_variants', title, `legacy ${legacyRules} rule(s), nft ${nftRules}`);
}

function conntrack(f: Facts): Check | undefined {
  const c = f.host.conntrack;
  if (!c || c.max <= 0) return undefined;
  const fill = c.count / c.max;
  const ev = `${c.count} of ${c.max} entries (${(fill * 100).toFixed(0)} %)`;
  const fix = `sysctl -w net.netfilter.nf_conntrack_max=${c.max * 2}`;
  if (fill >= 0.9)
    return fail(
      'host',
      'host.conntrack',
      'conntrack table has room',
      `${ev}: new connections are dropped when full`,
      fix,
    );
  if (fill >= 0.75) return warn('host', 'host.conntrack', 'conntrack table has room', ev, fix);
  return ok('host', 'host.conntrack', 'conntrack table has room', ev);
}

/**
 * flannel#1279/#2152: on some kernels and hypervisors the checksum of VXLAN-encapsulated packets
 * is computed wrongly when the device offloads it ("UDP: bad checksum", counted in InCsumErrors).
 * The workaround is to compute it in software: ethtool -K flannel.N tx-checksum-ip-generic off.
 */
function checksumOffload(f: Facts, dev: string): Check {
  const title = `VXLAN checksum offload on ${dev}`;
  const fixCmd = `ethtool -K ${dev} tx-checksum-ip-generic off (or: overlayd diagnose --fix-checksum-offload)`;
  const errs = f.host.udpInCsumErrors;
  const errText =
    errs === undefined ? 'UDP checksum errors unknown' : `${errs} UDP checksum error(s) (InCsumErrors)`;
  const state = f.host.txChecksumIpGeneric;
  if (state === undefined)
    return warn(
      'host',
      'host.checksum_offload',
      title,
      `cannot read offload state: ${f.host.ethtoolError ?? 'unknown'}; ${errText}`,
      'apt-get install ethtool, then run diagnose again',
    );
  if (state === 'off')
    return ok(
      'host',
      'host.checksum_offload',
      title,
      `tx-checksum-ip-generic off (workaround applied); ${errText}`,
    );
  if (errs !== undefined && errs > 0)
    return fail(
      'host',
      'host.checksum_offload',
      title,
      `tx-checksum-ip-generic on and ${errText}: the kernel drops packets with bad UDP checksums ("UDP: bad checksum" in dmesg)`,
      fixCmd,
    );
  return ok(
    'host',
    'host.checksum_offload',
    title,
    `tx-checksum-ip-generic on, ${errText}, kernel ${f.host.kernelRelease}`,
    `if dmesg shows "UDP: bad checksum": ${fixCmd}`,
  );
}

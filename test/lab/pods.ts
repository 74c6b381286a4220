/**
 * Pods the way Kubernetes attaches them on a flannel node: the flannel CNI plugin's delegate
 * config (bridge cni0 + host-local IPAM) filled from subnet.env, run through Debian's real
 * `bridge` and `host-local` plugins inside the node's namespace. A pod is a network namespace with
 * eth0 on cni0 and a default route via the bridge.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabNode } from './lab-node.js';
import { must, run } from './shell.js';

export const CNI_PATH = '/usr/lib/cni';

export interface Pod {
  readonly node: LabNode;
  readonly ns: string;
  readonly ip: string;
  /** The pod's IPv6 address when the node's subnet.env is dual-stack. */
  readonly ip6?: string;
}

/** The delegate config flannel's CNI plugin builds from subnet.env (flannel-cni-plugin's defaults). */
export function flannelDelegateConfig(env: Record<string, string>, dataDir: string): object {
  return {
    cniVersion: '0.3.1',
    name: 'cbr0',
    type: 'bridge',
    bridge: 'cni0',
    isGateway: true,
    isDefaultGateway: true,
    hairpinMode: true,
    // flanneld masquerades itself with --ip-masq; otherwise the bridge plugin does it.
    ipMasq: env['FLANNEL_IPMASQ'] !== 'true',
    mtu: Number(env['FLANNEL_MTU']),
    ipam: {
      type: 'host-local',
      dataDir,
      // Dual-stack: the flannel CNI plugin adds the IPv6 subnet as a second range, and its network
      // as a second route.
      ranges: [
        [{ subnet: env['FLANNEL_SUBNET']!.replace(/\.1\/(\d+)$/, '.0/$1') }],
        ...(env['FLANNEL_IPV6_SUBNET']
          ? [[{ subnet: env['FLANNEL_IPV6_SUBNET'].replace(/::1\/(\d+)$/, '::/$1') }]]
          : []),
      ],
      routes: [
        { dst: env['FLANNEL_NETWORK'] },
        ...(env['FLANNEL_IPV6_NETWORK'] ? [{ dst: env['FLANNEL_IPV6_NETWORK'] }] : []),
      ],
    },
  };
}

async function cni(
  node: LabNode,
  command: 'ADD' | 'DEL',
  podNs: string,
  containerId: string,
): Promise<string> {
  const env = await node.subnetEnv();
  const dataDir = join(node.lab.dir, `n${node.index}-ipam`);
  await mkdir(dataDir, { recursive: true });
  const config = JSON.stringify(flannelDelegateConfig(env, dataDir));
  const r = await run(
    'ip',
    [
      'netns',
      'exec',
      node.ns,
      'env',
      `CNI_COMMAND=${command}`,
      `CNI_CONTAINERID=${containerId}`,
      `CNI_NETNS=/var/run/netns/${podNs}`,
      'CNI_IFNAME=eth0',
      `CNI_PATH=${CNI_PATH}`,
      `${CNI_PATH}/bridge`,
    ],
    { input: config },
  );
  if (r.code !== 0)
    throw new Error(`CNI ${command} for ${podNs} on node ${node.index} failed: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

export async function addPod(node: LabNode, name: string): Promise<Pod> {
  const ns = `${node.ns}-${name}`;
  await must('ip', ['netns', 'add', ns]);
  await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  // IPv6 addresses (the pod's, and cni0's gateway address) are usable at once only without
  // duplicate address detection; the lab's addresses are unique by construction.
  for (const target of [ns, node.ns])
    await must('ip', [
      'netns',
      'exec',
      target,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.accept_dad=0',
      'net.ipv6.conf.default.accept_dad=0',
    ]);
  const out = JSON.parse(await cni(node, 'ADD', ns, ns)) as { ips?: Array<{ address: string }> };
  const addrs = (out.ips ?? []).map((i) => i.address.split('/')[0]!);
  const ip = addrs.find((a) => !a.includes(':'));
  const ip6 = addrs.find((a) => a.includes(':'));
  if (!ip) throw new Error(`CNI ADD gave no IP for ${ns}: ${JSON.stringify(out)}`);
  return ip6 === undefined ? { node, ns, ip } : { node, ns, ip, ip6 };
}

export async function removePod(pod: Pod): Promise<void> {
  await cni(pod.node, 'DEL', pod.ns, pod.ns).catch(() => undefined);
  await run('ip', ['netns', 'del', pod.ns]);
}

/** Runs a command inside the pod. */
export function inPod(pod: Pick<Pod, 'ns'>, cmd: string, args: readonly string[], timeoutMs = 30_000) {
  return run('ip', ['netns', 'exec', pod.ns, cmd, ...args], { timeoutMs });
}

/** Ping from one pod (or any namespace with an address) to another; returns loss (0..1) and RTTs in order. */
export async function ping(
  from: Pick<Pod, 'ns'>,
  to: Pick<Pod, 'ip'>,
  count = 3,
  intervalS = 0.2,
  timeoutMs = 30_000,
): Promise<{ loss: number; rtts: number[] }> {
  const r = await inPod(
    from,
    'ping',
    ['-c', String(count), '-i', String(intervalS), '-W', '1', to.ip],
    timeoutMs,
  );
  const rtts = [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
  return { loss: 1 - rtts.length / count, rtts };
}

/**
 * Resolves once `from` gets an answer from `to`, pinging one probe at a time until `timeoutMs`;
 * throws naming the pair otherwise. For a test whose claim is that a path exists: the first probes
 * on a fresh path can go unanswered without the product being wrong (the kernel resolving a pod's
 * neighbour by ARP/ND on a loaded machine, a handshake still in flight), so the test waits for the
 * first answer and then judges a ping run over the path the product set up.
 */
export async function reachable(
  from: Pick<Pod, 'ns'>,
  to: Pick<Pod, 'ip'>,
  timeoutMs = 20_000,
): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; ;) {
    if ((await ping(from, to, 1)).loss === 0) return;
    if (Date.now() > deadline) throw new Error(`${from.ns} -> ${to.ip}: no ping answered in ${timeoutMs} ms`);
    // An unanswered probe takes its 1 s timeout; an unroutable one fails at once.
    await new Promise((r) => setTimeout(r, 100));
  }
}

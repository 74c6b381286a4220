#!/usr/bin/env node
/**
 * The demo: a three-node overlayd cluster on this machine (real etcd, real daemons, pods attached
 * by the real CNI bridge plugin), shown step by step; then either stays up for exploring or, with
 * --check, verifies pod-to-pod connectivity and exits 0/1.
 *
 *   npm run demo -- [--backend udp|vxlan|host-gw] [--nodes N] [--ipv6] [--check]
 *
 * --ipv6: a dual-stack network (EnableIPv6, IPv6Network fd00:10:244::/56); pods get both families
 * and the ping matrix is shown for each (vxlan and host-gw; udp is IPv4-only).
 */
import { Lab, cleanupStale } from '../lab/lab.js';
import { addPod, ping, type Pod } from '../lab/pods.js';

const args = process.argv.slice(2);
const check = args.includes('--check');
const ipv6 = args.includes('--ipv6');
const backendArg = args.find((a) => a.startsWith('--backend'));
const backend = backendArg?.includes('=')
  ? backendArg.split('=')[1]!
  : backendArg
    ? args[args.indexOf(backendArg) + 1]!
    : 'vxlan';
const nodesArg = args.find((a) => a.startsWith('--nodes'));
const nodeCount = Number(
  nodesArg?.includes('=') ? nodesArg.split('=')[1] : nodesArg ? args[args.indexOf(nodesArg) + 1] : 3,
);
if (!['udp', 'vxlan', 'host-gw'].includes(backend) || !(nodeCount >= 2 && nodeCount <= 8)) {
  process.stderr.write('demo: use --backend udp|vxlan|host-gw and --nodes 2..8\n');
  process.exit(2);
}
if (ipv6 && backend === 'udp') {
  process.stderr.write('demo: --ipv6 needs --backend vxlan or host-gw (udp carries IPv4 only)\n');
  process.exit(2);
}
const networkConfig = {
  Network: '10.244.0.0/16',
  ...(ipv6 ? { EnableIPv6: true, IPv6Network: 'fd00:10:244::/56' } : {}),
  Backend: { Type: backend },
};

const TOTAL = 6;
const step = (n: number, msg: string): void => {
  process.stdout.write(`\n\x1b[1m[${n}/${TOTAL}] ${msg}\x1b[0m\n`);
};
const indent = (text: string): string =>
  text
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n') + '\n';

await cleanupStale();
step(1, `starting etcd in its own namespace and ${nodeCount} node namespaces on one L2`);
const lab = await Lab.create({
  nodes: nodeCount,
  networkConfig,
});
let failed = false;
const teardown = async (): Promise<void> => {
  process.stdout.write('\ntearing the lab down…\n');
  await lab.destroy();
};
try {
  process.stdout.write(
    indent(`etcd at ${lab.etcdEndpoint}; config ${lab.prefix}/config = ${JSON.stringify(networkConfig)}`),
  );

  step(2, `starting overlayd (backend ${backend}) on every node`);
  const t0 = Date.now();
  await Promise.all(lab.nodes.map((n) => n.startDaemon({ flags: ['--log-level=info'] })));
  for (const n of lab.nodes) {
    const env = await n.subnetEnv();
    process.stdout.write(
      indent(
        `node ${n.index} (${n.ip}${ipv6 ? `, ${n.ip6}` : ''}): ready, FLANNEL_SUBNET=${env['FLANNEL_SUBNET']}` +
          (ipv6 ? ` FLANNEL_IPV6_SUBNET=${env['FLANNEL_IPV6_SUBNET']}` : '') +
          ` FLANNEL_MTU=${env['FLANNEL_MTU']}`,
      ),
    );
  }
  process.stdout.write(indent(`all ready in ${Date.now() - t0} ms`));

  step(3, 'leases in etcd (flannel schema)');
  const c = lab.client();
  try {
    const res = await c.getAll().prefix(`${lab.prefix}/subnets/`).exec();
    process.stdout.write(
      indent(res.kvs.map((kv) => `${kv.key.toString()}  ${kv.value.toString()}`).join('\n')),
    );
  } finally {
    c.close();
  }

  step(4, 'kernel state on node 1');
  const n1 = lab.nodes[0]!;
  const show = async (cmd: string, a: string[]) =>
    `$ ${cmd} ${a.join(' ')}\n${(await n1.exec(cmd, a)).stdout.trim() || '(none)'}`;
  const views =
    backend === 'vxlan'
      ? [
          await show('ip', ['-d', 'link', 'show', 'flannel.1']),
          await show('ip', ['route', 'show', 'dev', 'flannel.1']),
          await show('ip', ['neigh', 'show', 'dev', 'flannel.1']),
          await show('bridge', ['fdb', 'show', 'dev', 'flannel.1']),
        ]
      : backend === 'udp'
        ? [
            await show('ip', ['addr', 'show', 'flannel0']),
            await show('ip', ['route', 'show', 'dev', 'flannel0']),
          ]
        : [await show('ip', ['route', 'show', 'proto', '77'])];
  if (ipv6 && backend === 'vxlan') {
    views.push(
      await show('ip', ['-d', 'link', 'show', 'flannel-v6.1']),
      await show('ip', ['-6', 'route', 'show', 'dev', 'flannel-v6.1']),
      await show('ip', ['-6', 'neigh', 'show', 'dev', 'flannel-v6.1']),
      await show('bridge', ['fdb', 'show', 'dev', 'flannel-v6.1']),
    );
  }
  if (ipv6 && backend === 'host-gw') views.push(await show('ip', ['-6', 'route', 'show', 'proto', '77']));
  process.stdout.write(indent(views.join('\n\n')));

  step(5, 'attaching a pod to every node (CNI bridge + host-local, fed from subnet.env)');
  const pods: Pod[] = [];
  for (const n of lab.nodes) {
    const p = await addPod(n, 'p1');
    pods.push(p);
    process.stdout.write(indent(`pod ${p.ns}: ${p.ip}${p.ip6 ? `, ${p.ip6}` : ''}`));
  }

  step(6, `pod → pod ping matrix (loss %, median RTT)${ipv6 ? ', IPv4 then IPv6' : ''}`);
  const addrOf = (p: Pod, family: 4 | 6): string => (family === 4 ? p.ip : p.ip6!);
  for (const family of ipv6 ? ([4, 6] as const) : ([4] as const)) {
    const header = ['from \\ to', ...pods.map((p) => addrOf(p, family))];
    const rows: string[][] = [];
    for (const a of pods) {
      const row = [addrOf(a, family)];
      for (const b of pods) {
        if (a === b) {
          row.push('—');
          continue;
        }
        const r = await ping(a, { ip: addrOf(b, family) }, 3);
        if (r.loss > 0) failed = true;
        const med = [...r.rtts].sort((x, y) => x - y)[Math.floor(r.rtts.length / 2)];
        row.push(`${Math.round(r.loss * 100)}% ${med !== undefined ? med.toFixed(3) + ' ms' : ''}`.trim());
      }
      rows.push(row);
    }
    const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
    const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    process.stdout.write(indent([fmt(header), ...rows.map(fmt)].join('\n')));
  }

  if (check) {
    process.stdout.write(
      failed
        ? '\nCHECK FAILED: some pods cannot reach each other\n'
        : '\nCHECK PASSED: every pod reaches every other pod\n',
    );
  } else {
    process.stdout.write(
      `\nThe cluster is up. Try:\n` +
        `    ip netns exec ${pods[0]!.ns} ping ${pods[1]!.ip}\n` +
        `    ip netns exec ${lab.nodes[0]!.ns} ip route\n` +
        `    curl http://${lab.nodes[0]!.ip}:8081/metrics | grep overlayd_\n` +
        `    less ${lab.nodes[0]!.logFile}   (daemon log)\n` +
        `Press Ctrl-C to tear it down.\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
  }
} catch (err) {
  failed = true;
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
} finally {
  await teardown();
}
process.exit(failed ? 1 : 0);

/**
 * Masquerade and forward rules for both families in both rules modes (iptables chains, and
 * EnableNFTables tables), judged by behaviour: the source address a listener outside the overlay
 * sees for pod traffic (the node's underlay address when masqueraded), and the pod's own address
 * for pod-to-pod traffic. Also resync after a rule is deleted, and the switch between modes
 * removing the other mode's state.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, inPod, type Pod } from './lab/pods.js';

/**
 * Listens for one UDP datagram in namespace `ns` on `ip`; resolves with the sender's address. The
 * listener binds port 0 and prints the port the kernel gave it before `send` is called: a port
 * the test picked at random could already be taken in that namespace (the etcd namespace has
 * etcd's own sockets, and a pod can have another listener).
 */
async function sourceSeenBy(
  ns: string,
  ip: string,
  send: (port: number) => Promise<unknown>,
): Promise<string> {
  const family = ip.includes(':') ? 'AF_INET6' : 'AF_INET';
  const py =
    `import socket,sys\ns=socket.socket(socket.${family},socket.SOCK_DGRAM); s.bind(('${ip}',0))\n` +
    `print('ready',s.getsockname()[1],flush=True); s.settimeout(10)\nd,a=s.recvfrom(100); print(a[0],flush=True)`;
  const child = spawn('ip', ['netns', 'exec', ns, 'python3', '-c', py]);
  let out = '';
  let onPort: (port: number) => void = () => undefined;
  const port = new Promise<number>((resolve) => (onPort = resolve));
  const lines = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const ready = /^ready (\d+)\n/.exec(out);
      if (ready) onPort(Number(ready[1]));
      if (ready && out.split('\n').length > 2) resolve(out.split('\n')[1]!.trim());
    });
    child.on('exit', (code) => reject(new Error(`listener exited ${code}: ${out}`)));
  });
  // A listener that dies before it reports its port rejects `lines`, and so this race.
  await send(await Promise.race([port, lines.then(() => port)]));
  try {
    return await lines;
  } finally {
    child.kill();
  }
}

/**
 * UDP datagrams from the pod to ip:port, 20 of them 0.25 s apart: the listener reports the first
 * that arrives. One datagram alone was once lost under load (three CI runs at once; the listener
 * waited its 10 s), and a lost datagram says nothing about the source address, which is what the
 * tests judge.
 */
const udpFrom =
  (pod: Pod, to: string) =>
  (port: number): Promise<unknown> =>
    inPod(pod, 'python3', [
      '-c',
      `import socket,time\ns=socket.socket(socket.${to.includes(':') ? 'AF_INET6' : 'AF_INET'},socket.SOCK_DGRAM)\n` +
        `for _ in range(20):\n  s.sendto(b'x',('${to}',${port})); time.sleep(0.25)`,
    ]);

const config = (nft: boolean): object => ({
  Network: '10.244.0.0/16',
  EnableIPv6: true,
  IPv6Network: 'fd00:10:244::/56',
  EnableNFTables: nft,
  Backend: { Type: 'host-gw' },
});

for (const mode of ['iptables', 'nftables'] as const) {
  describe(`masquerade in ${mode} mode, both families`, () => {
    let lab: Lab;
    let pods: Pod[] = [];
    let n1: LabNode;

    beforeAll(async () => {
      lab = await Lab.create({ nodes: 2, networkConfig: config(mode === 'nftables') });
      await Promise.all(lab.nodes.map((n) => n.startDaemon({ flags: ['--ip-masq', '--iptables-resync=1'] })));
      pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
      n1 = lab.nodes[0]!;
    });
    afterAll(async () => {
      await lab?.destroy();
    });

    it('pod -> outside the network leaves with the node address, over IPv4 and IPv6', async () => {
      const etcd6 = lab.underlayIpv6(100);
      expect(await sourceSeenBy(lab.etcdNs, lab.etcdIp, udpFrom(pods[0]!, lab.etcdIp))).toBe(n1.ip);
      expect(await sourceSeenBy(lab.etcdNs, etcd6, udpFrom(pods[0]!, etcd6))).toBe(n1.ip6);
    });

    it('pod -> pod keeps the pod address, over IPv4 and IPv6', async () => {
      const [a, b] = [pods[0]!, pods[1]!];
      expect(await sourceSeenBy(b.ns, b.ip, udpFrom(a, b.ip))).toBe(a.ip);
      expect(await sourceSeenBy(b.ns, b.ip6!, udpFrom(a, b.ip6!))).toBe(a.ip6);
    });

    it('holds only this mode: the other mode has no state on the node', async () => {
      const nft = await n1.exec('nft', ['list', 'tables']);
      const ipt4 = await n1.mustExec('iptables-save', []);
      const ipt6 = await n1.mustExec('ip6tables-save', []);
      if (mode === 'nftables') {
        expect(nft.stdout).toMatch(/table ip flannel-ipv4/);
        expect(nft.stdout).toMatch(/table ip6 flannel-ipv6/);
        expect(ipt4 + ipt6).not.toMatch(/FLANNEL-/);
      } else {
        expect(nft.stdout).not.toMatch(/flannel-ipv/);
        expect(ipt4).toMatch(/-A FLANNEL-POSTRTG -s 10\.244\.0\.0\/16 ! -d 224\.0\.0\.0\/4/);
        expect(ipt6).toMatch(/-A FLANNEL-POSTRTG -s fd00:10:244::\/56 ! -d ff00::\/8 .*MASQUERADE/);
        expect(ipt6).toMatch(/-A FLANNEL-FWD -d fd00:10:244::\/56 .*ACCEPT/);
      }
    });

    it('puts back a deleted IPv6 rule within the resync period', async () => {
      if (mode === 'nftables') {
        await n1.mustExec('nft', ['flush', 'chain', 'ip6', 'flannel-ipv6', 'postrtg']);
        await expect
          .poll(
            async () =>
              (await n1.mustExec('nft', ['list', 'chain', 'ip6', 'flannel-ipv6', 'postrtg'])).match(
                /masquerade/g,
              )?.length ?? 0,
            { timeout: 20_000 },
          )
          .toBe(2);
      } else {
        await n1.mustExec('ip6tables', ['-t', 'nat', '-F', 'FLANNEL-POSTRTG']);
        await expect
          .poll(
            async () =>
              ((await n1.mustExec('ip6tables-save', ['-t', 'nat'])).match(/MASQUERADE/g) ?? []).length,
            { timeout: 20_000 },
          )
          .toBe(2);
      }
      const etcd6 = lab.underlayIpv6(100);
      expect(await sourceSeenBy(lab.etcdNs, etcd6, udpFrom(pods[0]!, etcd6))).toBe(n1.ip6);
    });

    it("switching modes at restart removes the previous mode's state", async () => {
      await lab.putConfig(config(mode !== 'nftables'));
      await n1.stopDaemon('SIGTERM');
      await n1.startDaemon({ flags: ['--ip-masq', '--iptables-resync=1'] });
      const nft = await n1.exec('nft', ['list', 'tables']);
      const ipt = (await n1.mustExec('iptables-save', [])) + (await n1.mustExec('ip6tables-save', []));
      if (mode === 'nftables') {
        expect(nft.stdout).not.toMatch(/flannel-ipv/);
        expect(ipt).toMatch(/FLANNEL-POSTRTG/);
      } else {
        expect(nft.stdout).toMatch(/flannel-ipv6/);
        expect(ipt).not.toMatch(/FLANNEL-/);
      }
      const etcd6 = lab.underlayIpv6(100);
      expect(await sourceSeenBy(lab.etcdNs, etcd6, udpFrom(pods[0]!, etcd6))).toBe(n1.ip6);
    });
  });
}

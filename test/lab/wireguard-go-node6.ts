/**
 * A dual-stack flanneld wireguard node (Mode "separate", flannel's default) built by hand on
 * wireguard-go: flannel-wg as wireguard-go-node.ts builds it, and flannel-wg-v6 as flanneld's
 * createWGDev + ConfigureV6 build the second device — the same key file, ListenPortV6 (51821),
 * MTU base − 80, address <IPv6 subnet>/128, `ip -6 route replace <IPv6Network> dev flannel-wg-v6
 * scope link`. Its lease is flanneld's dual-stack one (newSubnetAttrs: PublicIPv6, BackendData and
 * BackendV6Data {PublicKey, Port}) under flanneld's key <subnet>&<IPv6 subnet>, its subnet.env
 * flanneld's with the IPv6 lines; per peer lease it does what handleSubnetEvents does in Mode
 * separate: flannel-wg gets PublicIP:Port from BackendData with the IPv4 subnet, flannel-wg-v6
 * gets [PublicIPv6]:Port from BackendV6Data with the IPv6 subnet, each device's Network route again.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { LabNode } from './lab-node.js';
import { otherLeases } from './peer-leases.js';
import { WG_DEFAULT_PORT, WireguardGoNode, type WgPeer } from './wireguard-go-node.js';

export const WG_DEFAULT_PORT_V6 = 51821;

interface DualLease {
  PublicIP: string;
  PublicIPv6?: string | null;
  BackendType?: string;
  BackendData?: { PublicKey?: string; Port?: number };
  BackendV6Data?: { PublicKey?: string; Port?: number };
}

export class WireguardGoNode6 {
  private constructor(
    readonly v4: WireguardGoNode,
    readonly v6: WireguardGoNode,
    readonly subnet6: string,
    readonly network6: string,
  ) {}

  get node(): LabNode {
    return this.v4.node;
  }
  get leaseKey(): string {
    return `${this.node.lab.prefix}/subnets/${this.v4.opts.subnet.replace('/', '-')}&${this.subnet6.replace('/', '-')}`;
  }

  static async start(
    node: LabNode,
    o: { subnet: string; subnet6: string; network6: string },
  ): Promise<WireguardGoNode6> {
    const v4 = await WireguardGoNode.start(node, { subnet: o.subnet });
    try {
      const v6 = await WireguardGoNode.start(node, {
        subnet: o.subnet6,
        network: o.network6,
        listenPort: WG_DEFAULT_PORT_V6,
        v6: { privateKeyFile: v4.privateKeyFile, publicKey: v4.publicKey },
      });
      const dual = new WireguardGoNode6(v4, v6, o.subnet6, o.network6);
      await dual.writeSubnetEnv();
      return dual;
    } catch (err) {
      await v4.stop();
      throw err;
    }
  }

  /** flanneld's subnet.env of a dual-stack node (both devices' MTU is base − 80). */
  private async writeSubnetEnv(): Promise<void> {
    const n = this.node;
    await mkdir(dirname(n.subnetFile), { recursive: true });
    await writeFile(
      n.subnetFile,
      `FLANNEL_NETWORK=${this.v4.opts.network}\nFLANNEL_SUBNET=${this.v4.opts.subnet.replace('.0/', '.1/')}\n` +
        `FLANNEL_MTU=${this.v4.deviceMtu}\nFLANNEL_IPMASQ=false\n` +
        `FLANNEL_IPV6_NETWORK=${this.network6}\nFLANNEL_IPV6_SUBNET=${this.subnet6.replace('::/', '::1/')}\n`,
    );
  }

  async writeLease(): Promise<void> {
    const c = this.node.lab.client();
    try {
      const value: DualLease = {
        PublicIP: this.node.ip,
        PublicIPv6: this.node.ip6,
        BackendType: 'wireguard',
        BackendData: { PublicKey: this.v4.publicKey, Port: WG_DEFAULT_PORT },
        BackendV6Data: { PublicKey: this.v4.publicKey, Port: WG_DEFAULT_PORT_V6 },
      };
      await c.put(this.leaseKey).value(JSON.stringify(value)).exec();
    } finally {
      c.close();
    }
  }

  /** flanneld's lease watch in Mode separate, converged once: both devices' peers from every other lease. */
  async syncPeers(): Promise<{ v4: WgPeer[]; v6: WgPeer[] }> {
    const want = { v4: [] as WgPeer[], v6: [] as WgPeer[] };
    for (const { key, lease } of await otherLeases<DualLease>(this.node, this.leaseKey)) {
      if (lease.BackendType !== 'wireguard') continue;
      const [sn4, sn6] = key.split('&').map((s) => s.replace('-', '/'));
      const k4 = lease.BackendData?.PublicKey;
      if (k4 && sn4)
        want.v4.push({
          publicKey: k4,
          endpoint: `${lease.PublicIP}:${lease.BackendData?.Port || WG_DEFAULT_PORT}`,
          allowedIps: [sn4],
        });
      const k6 = lease.BackendV6Data?.PublicKey;
      if (k6 && sn6 && lease.PublicIPv6)
        want.v6.push({
          publicKey: k6,
          endpoint: `[${lease.PublicIPv6}]:${lease.BackendV6Data?.Port || WG_DEFAULT_PORT_V6}`,
          allowedIps: [sn6],
        });
    }
    for (const p of want.v4) await this.v4.addPeer(p);
    for (const p of want.v6) await this.v6.addPeer(p);
    return want;
  }

  async stop(): Promise<void> {
    try {
      await this.v6.stop();
    } finally {
      await this.v4.stop();
    }
  }
}

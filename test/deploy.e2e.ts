/**
 * deploy/: the systemd unit verifies and its install path yields a runnable overlayd; the
 * Kubernetes manifests validate against the API schemas (kubernetes-models, offline) and hold the
 * invariants a flannel operator relies on; the network config from a file drives a real daemon;
 * the Dockerfile builds where a container engine exists.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, Secret, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { parseNetworkConfig } from '../subnet-lease/network-config.js';
import { DAEMON_MAIN } from './lab/lab-node.js';
import { Lab } from './lab/lab.js';

const exec = promisify(execFile);
const root = join(DAEMON_MAIN, '..', '..', '..');
const K8S = join(root, 'deploy', 'kubernetes', 'overlayd.yaml');

type Obj = { kind: string; metadata: { name: string }; [k: string]: unknown };

async function manifests(): Promise<Obj[]> {
  const docs = parseAllDocuments(await readFile(K8S, 'utf8'));
  for (const d of docs) if (d.errors.length) throw new Error(d.errors.map(String).join('; '));
  return docs.map((d) => d.toJSON() as Obj).filter(Boolean);
}

describe('systemd unit', () => {
  let prefix = '';
  beforeAll(async () => {
    prefix = await mkdtemp(join(tmpdir(), 'overlayd-install-'));
    await exec('bash', [join(root, 'deploy', 'install.sh'), '--prefix', prefix], { timeout: 120_000 });
  });
  afterAll(async () => {
    await rm(prefix, { recursive: true, force: true });
  });

  it('installs a runnable overlayd on the PATH location, the unit and an env file', async () => {
    const { stdout } = await exec(join(prefix, 'usr/local/bin/overlayd'), ['--version']);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    expect(await readFile(join(prefix, 'etc/systemd/system/overlayd.service'), 'utf8')).toContain(
      'Type=notify',
    );
    expect(await readFile(join(prefix, 'etc/default/overlayd'), 'utf8')).toContain(
      'FLANNELD_ETCD_ENDPOINTS=',
    );
    expect(await readFile(join(prefix, 'etc/iproute2/rt_protos.d/overlayd.conf'), 'utf8')).toBe(
      '77 overlayd\n',
    );
  });

  it('passes systemd-analyze verify (ExecStart pointed at the installed binary)', async () => {
    const unit = (await readFile(join(root, 'deploy/systemd/overlayd.service'), 'utf8')).replace(
      'ExecStart=/usr/local/bin/overlayd',
      `ExecStart=${join(prefix, 'usr/local/bin/overlayd')}`,
    );
    const path = join(prefix, 'overlayd.service');
    await writeFile(path, unit);
    const r = await exec('systemd-analyze', ['verify', '--man=no', path]).then(
      (o) => ({ code: 0, stderr: o.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('asks for what overlayd needs and no more', async () => {
    const unit = await readFile(join(root, 'deploy/systemd/overlayd.service'), 'utf8');
    for (const line of [
      'Type=notify',
      'Restart=on-failure',
      'After=network-online.target',
      'Wants=network-online.target',
      'EnvironmentFile=-/etc/default/overlayd',
      'CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW',
      'DeviceAllow=/dev/net/tun rw',
      'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK',
    ]) {
      expect(unit.split('\n')).toContain(line);
    }
  });
});

describe('Kubernetes manifests', () => {
  it('validate against the Kubernetes API schemas', async () => {
    const classes: Record<string, new (o: never) => { validate(): void }> = {
      Namespace,
      ServiceAccount,
      ConfigMap,
      DaemonSet,
    } as never;
    const objs = await manifests();
    expect(objs.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'DaemonSet', 'Namespace', 'ServiceAccount']);
    for (const o of objs) {
      const Cls = classes[o.kind];
      expect(Cls, o.kind).toBeDefined();
      expect(() => new Cls!(o as never).validate(), o.kind).not.toThrow();
    }
  });

  it('the etcd TLS Secret template validates and is the one the DaemonSet mounts, with the files it names', async () => {
    const docs = parseAllDocuments(
      await readFile(join(root, 'deploy', 'kubernetes', 'etcd-tls-secret.yaml'), 'utf8'),
    );
    const secret = docs[0]!.toJSON() as {
      metadata: { name: string; namespace: string };
      stringData: Record<string, string>;
    };
    expect(() => new Secret(secret as never).validate()).not.toThrow();
    const ds = (await manifests()).find((o) => o.kind === 'DaemonSet') as unknown as {
      metadata: { namespace: string };
      spec: {
        template: {
          spec: {
            volumes: Array<{ name: string; secret?: { secretName: string } }>;
            containers: Array<{
              env: Array<{ name: string; value?: string }>;
              volumeMounts: Array<{ name: string; mountPath: string; subPath?: string }>;
            }>;
          };
        };
      };
    };
    const pod = ds.spec.template.spec;
    const vol = pod.volumes.find((v) => v.secret)!;
    expect(vol.secret!.secretName).toBe(secret.metadata.name);
    expect(secret.metadata.namespace).toBe(ds.metadata.namespace);
    const mount = pod.containers[0]!.volumeMounts.find((m) => m.name === vol.name)!;
    expect(
      mount.subPath,
      'a subPath mount is never updated: rotation needs the whole directory',
    ).toBeUndefined();
    const env = Object.fromEntries(pod.containers[0]!.env.map((e) => [e.name, e.value]));
    for (const flag of ['CAFILE', 'CERTFILE', 'KEYFILE']) {
      const path = env[`FLANNELD_ETCD_${flag}`]!;
      expect(path.startsWith(`${mount.mountPath}/`), flag).toBe(true);
      expect(Object.keys(secret.stringData)).toContain(path.slice(mount.mountPath.length + 1));
    }
  });

  it('hold the invariants: host network, probes, capabilities, volumes, configs', async () => {
    const objs = await manifests();
    const ds = objs.find((o) => o.kind === 'DaemonSet') as unknown as {
      spec: {
        template: {
          spec: Record<string, unknown> & {
            containers: Array<Record<string, unknown>>;
            initContainers: Array<Record<string, unknown>>;
            volumes: Array<Record<string, unknown>>;
          };
        };
      };
    };
    const pod = ds.spec.template.spec;
    expect(pod['hostNetwork']).toBe(true);
    expect(pod['priorityClassName']).toBe('system-node-critical');
    expect(pod['tolerations']).toEqual([{ operator: 'Exists', effect: 'NoSchedule' }]);
    const c = pod.containers[0]!;
    const args = c['args'] as string[];
    const port = Number(args.find((a) => a.startsWith('--healthz-port='))!.split('=')[1]);
    expect(c['livenessProbe']).toMatchObject({ httpGet: { path: '/healthz', port } });
    expect(c['readinessProbe']).toMatchObject({ httpGet: { path: '/readyz', port } });
    expect(c['securityContext']).toMatchObject({ capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
    expect(c['resources']).toMatchObject({
      requests: { cpu: expect.any(String), memory: expect.any(String) },
    });
    const hostPaths = Object.fromEntries(
      pod.volumes
        .filter((v) => v['hostPath'])
        .map((v) => [(v['hostPath'] as { path: string }).path, v['hostPath']]),
    );
    for (const p of ['/run/flannel', '/etc/cni/net.d', '/opt/cni/bin', '/run/xtables.lock', '/dev/net/tun'])
      expect(hostPaths[p], p).toBeDefined();
    expect(hostPaths['/run/xtables.lock']).toEqual({ path: '/run/xtables.lock', type: 'FileOrCreate' });
    // every flag the container passes is one overlayd accepts
    const { parseFlags } = await import('../daemon/flags.js');
    const parsed = parseFlags(args, { FLANNELD_ETCD_ENDPOINTS: 'https://10.0.0.10:2379' });
    expect(parsed.ok, parsed.ok ? '' : parsed.error).toBe(true);
    // the CNI config is installed atomically (temp file + rename)
    const install = pod.initContainers.find((i) => i['name'] === 'install-cni')!;
    expect((install['args'] as string[])[0]).toMatch(
      /cp -f .*\.tmp && mv -f .*\.tmp \/etc\/cni\/net\.d\/10-flannel\.conflist/,
    );
    const cm = objs.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    expect(parseNetworkConfig(cm.data['net-conf.json']!).backendType).toBe('vxlan');
    const cni = JSON.parse(cm.data['cni-conf.json']!);
    expect(cni).toMatchObject({ name: 'cbr0', cniVersion: '0.3.1' });
    expect(cni.plugins.map((p: { type: string }) => p.type)).toEqual(['flannel', 'portmap']);
    expect(cni.plugins[0].delegate).toEqual({ hairpinMode: true, isDefaultGateway: true });
    expect(cni.plugins[1].capabilities).toEqual({ portMappings: true });
  });

  it('runs a daemon from the ConfigMap net-conf.json via --net-config-path', async () => {
    const cm = (await manifests()).find((o) => o.kind === 'ConfigMap') as unknown as {
      data: Record<string, string>;
    };
    const lab = await Lab.create({ nodes: 1 });
    try {
      const path = join(lab.dir, 'net-conf.json');
      await writeFile(path, cm.data['net-conf.json']!);
      const n = lab.nodes[0]!;
      await n.startDaemon({ flags: [`--net-config-path=${path}`] });
      const env = await n.subnetEnv();
      expect(env['FLANNEL_NETWORK']).toBe('10.244.0.0/16');
      expect(env['FLANNEL_MTU']).toBe('1450');
      const c = lab.client();
      try {
        expect(await c.get(`${lab.prefix}/config`).string()).toBeNull(); // nobody wrote etcd's config key
      } finally {
        c.close();
      }
    } finally {
      await lab.destroy();
    }
  });
});

describe('container image', () => {
  it('builds from deploy/Dockerfile where a container engine runs', async (ctx) => {
    const dockerfile = await readFile(join(root, 'deploy/Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/USER node/);
    expect(dockerfile).toMatch(/apt-get install -y --no-install-recommends iptables/);
    expect(dockerfile).toMatch(/overlayd_sys\.node/);
    const engine = await exec('docker', ['info', '--format', '{{.ServerVersion}}']).then(
      () => undefined,
      (e: { stderr?: string; message: string }) => (e.stderr || e.message).trim().split('\n')[0],
    );
    if (engine !== undefined) {
      console.log(`deploy/Dockerfile NOT built: no container engine here (docker info: ${engine})`);
      ctx.skip();
    }
    await exec('docker', ['build', '-f', join(root, 'deploy/Dockerfile'), '-t', 'overlayd:test', root], {
      timeout: 600_000,
    });
    const { stdout } = await exec('docker', ['run', '--rm', 'overlayd:test', '--version']);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCidr } from '../core/ipv4.js';
import { parseSubnetEnv, readSubnetFile, renderSubnetEnv, writeSubnetFile } from './subnet-file.js';

const env = {
  network: parseCidr('10.244.0.0/16')!,
  subnet: parseCidr('10.244.3.0/24')!,
  mtu: 1450,
  ipMasq: true,
};
let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('subnet.env', () => {
  it('renders flannel format in flannel order', () => {
    expect(renderSubnetEnv(env)).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
  });

  it('writes atomically with mode 0644, creating the directory, and reads back', async () => {
    dir = await mkdtemp(join(tmpdir(), 'overlayd-subnet-'));
    const path = join(dir, 'run', 'flannel', 'subnet.env');
    const oldUmask = process.umask(0o077);
    try {
      await writeSubnetFile(path, env);
    } finally {
      process.umask(oldUmask);
    }
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await readFile(path, 'utf8')).toBe(renderSubnetEnv(env));
    expect(await readSubnetFile(path)).toEqual({ network: env.network, subnet: env.subnet });
  });

  it('names the path when it cannot write', async () => {
    dir = await mkdtemp(join(tmpdir(), 'overlayd-subnet-'));
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    const path = join(blocker, 'subnet.env');
    await expect(writeSubnetFile(path, env)).rejects.toThrow(`cannot write subnet file ${path}`);
  });

  it('reads what flannel would and ignores the rest', () => {
    expect(parseSubnetEnv('FLANNEL_SUBNET=10.244.3.1/24\n')).toEqual({ subnet: parseCidr('10.244.3.0/24') });
    expect(parseSubnetEnv('FLANNEL_SUBNET=10.244.3.1/24,fd00::1/64\n')).toEqual({});
    expect(parseSubnetEnv('garbage\n=x\nFLANNEL_NETWORK=nope')).toEqual({});
  });

  it('returns nothing for a missing file', async () => {
    expect(await readSubnetFile('/nonexistent/overlayd/subnet.env')).toEqual({});
  });
});

import { copyFile, mkdtemp, rm, unlink } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa, type CertFiles } from '../test/lab/certs.js';
import { EtcdTlsFiles, inspectTlsMaterial, validityProblem, type TlsReload } from './etcd-tls-files.js';

// Certificates made by openssl (an implementation independent of node:crypto's checks).
let dir: string;
let ca: TestCa;
let a: CertFiles;
let b: CertFiles;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'overlayd-tls-unit-'));
  ca = await TestCa.create(join(dir, 'ca'));
  a = await ca.issue(dir, 'a', {
    cn: 'node-a',
    usage: 'client',
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
  });
  b = await ca.issue(dir, 'b', { cn: 'node-b', usage: 'client' });
}, 60_000); // seven openssl runs; slow only when the machine is busy
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names = () => ({ cafile: ca.cert, certfile: join(dir, 'cert.pem'), keyfile: join(dir, 'key.pem') });
const install = async (c: CertFiles) => {
  await copyFile(c.cert, join(dir, 'cert.pem'));
  await copyFile(c.key, join(dir, 'key.pem'));
};

describe('inspectTlsMaterial', () => {
  it('accepts a matching pair and reads CN and validity', () => {
    const m = inspectTlsMaterial(names(), readFileSync(ca.cert), readFileSync(a.cert), readFileSync(a.key));
    expect(m.problem).toBeUndefined();
    expect(m.commonName).toBe('node-a');
    expect(m.validTo?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('names both files when the key is not the certificate’s', () => {
    const m = inspectTlsMaterial(names(), readFileSync(ca.cert), readFileSync(a.cert), readFileSync(b.key));
    expect(m.problem).toBe(
      `--etcd-keyfile ${names().keyfile} is not the key of --etcd-certfile ${names().certfile}; give the key the certificate was issued for (or the certificate of that key)`,
    );
  });

  it('names a key file that is no key and a CA file that is no certificate', () => {
    const notKey = inspectTlsMaterial(
      names(),
      readFileSync(ca.cert),
      readFileSync(a.cert),
      readFileSync(a.cert),
    );
    expect(notKey.problem).toMatch(/^--etcd-keyfile .*key\.pem holds no readable private key/);
    const notCa = inspectTlsMaterial(names(), Buffer.from('junk'), readFileSync(a.cert), readFileSync(a.key));
    expect(notCa.problem).toMatch(/^--etcd-cafile .* holds no readable certificate/);
  });

  it('says expired / not yet valid against the injected time', () => {
    const m = inspectTlsMaterial(names(), readFileSync(ca.cert), readFileSync(a.cert), readFileSync(a.key));
    expect(validityProblem(m, 'c.pem', new Date('2026-06-01T00:00:00Z'))).toBeUndefined();
    expect(validityProblem(m, 'c.pem', new Date('2027-01-01T00:00:01Z'))).toMatch(
      /^--etcd-certfile c\.pem expired at 2027-01-01T00:00:00\.000Z; renew it/,
    );
    expect(validityProblem(m, 'c.pem', new Date('2025-12-31T23:59:59Z'))).toMatch(
      /^--etcd-certfile c\.pem is not valid before 2026-01-01T00:00:00\.000Z/,
    );
  });
});

describe('EtcdTlsFiles', () => {
  it('hands a replaced pair to the listeners; a bad or missing one keeps the last good pair', async () => {
    await install(a);
    const reloads: TlsReload[] = [];
    const files = new EtcdTlsFiles(names(), { pollMs: 3_600_000, onReload: (r) => reloads.push(r) });
    try {
      const seen: Array<string | null> = [];
      files.addIdentityCertificateListener((u) => seen.push(u ? u.certificate.toString() : null));
      expect(seen).toEqual([readFileSync(a.cert, 'utf8')]);
      expect(files.reload()).toBe(false); // unchanged

      await install(b);
      expect(files.reload()).toBe(true);
      expect(seen.at(-1)).toBe(readFileSync(b.cert, 'utf8'));
      expect(files.commonName).toBe('node-b');
      expect(reloads.at(-1)?.ok).toBe(true);

      await copyFile(a.key, join(dir, 'key.pem')); // half a rotation: b's certificate, a's key
      expect(files.reload()).toBe(true);
      expect(seen).toHaveLength(2); // nothing handed on
      expect(reloads.at(-1)).toEqual({
        ok: false,
        message: expect.stringMatching(
          /is not the key of .*; new etcd connections keep the previous certificate$/,
        ),
      });
      expect(files.problem()).toMatch(/is not the key of/);

      await unlink(join(dir, 'key.pem'));
      expect(files.reload()).toBe(false);
      expect(files.problem()).toMatch(/^cannot re-read the etcd TLS files \(ENOENT .*key\.pem\)/);

      await install(a); // the rotation completes
      expect(files.reload()).toBe(true);
      expect(seen.at(-1)).toBe(readFileSync(a.cert, 'utf8'));
      expect(files.problem()).toBeUndefined();
    } finally {
      files.close();
    }
  });

  it('gives grpc-js no identity while the pair is wrong at start-up, and one once it is fixed', async () => {
    await copyFile(a.cert, join(dir, 'cert.pem'));
    await copyFile(b.key, join(dir, 'key.pem'));
    const files = new EtcdTlsFiles(names(), { pollMs: 3_600_000 });
    try {
      const seen: Array<unknown> = [];
      files.addIdentityCertificateListener((u) => seen.push(u));
      expect(seen).toEqual([null]);
      expect(files.problem()).toMatch(/is not the key of/);
      await install(a);
      files.reload();
      expect(seen).toHaveLength(2);
      expect(seen[1]).not.toBeNull();
    } finally {
      files.close();
    }
  });
});

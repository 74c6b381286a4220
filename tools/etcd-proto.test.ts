import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { replaceEtcdProtoLoad } from './etcd-proto.mjs';

const etcd3Pool = readFileSync(
  createRequire(import.meta.url).resolve('etcd3/lib/connection-pool.js'),
  'utf8',
);
const manifest = { json: { nested: {} }, services: { 'etcdserverpb.KV': {} } };

describe('replaceEtcdProtoLoad (tools/bundle.mjs)', () => {
  it("replaces the installed etcd3's parse of rpc.proto, keeping its options", () => {
    const out: string = replaceEtcdProtoLoad(etcd3Pool, manifest, '/x/etcd-grpc-definition.js');
    expect(etcd3Pool).toMatch(/loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`/);
    expect(out).not.toMatch(/loadSync|rpc\.proto|@grpc\/proto-loader/);
    expect(out).toContain(
      'require("/x/etcd-grpc-definition.js").etcdPackageDefinition({"nested":{}}, {"etcdserverpb.KV":{}}, {',
    );
    expect(out).toMatch(/etcdPackageDefinition\([^]*keepCase: true,[^]*oneofs: true,\s*\}\)/);
  });

  it('refuses an etcd3 that loads rpc.proto otherwise (the build fails, not the wire)', () => {
    const otherOptions = etcd3Pool.replace('keepCase: true', 'keepCase: false');
    expect(() => replaceEtcdProtoLoad(otherOptions, manifest, '/x.js')).toThrow(/no longer loads rpc\.proto/);
    const otherFile = etcd3Pool.replace('/../proto/rpc.proto', '/../proto/v4.proto');
    expect(() => replaceEtcdProtoLoad(otherFile, manifest, '/x.js')).toThrow(
      /update it for this etcd3 version/,
    );
  });
});

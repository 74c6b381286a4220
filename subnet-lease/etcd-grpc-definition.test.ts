import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { etcdPackageDefinition, type EtcdPackageDefinition } from './etcd-grpc-definition.js';
import { ETCD_PROTO_OPTIONS, etcdProtoManifest } from './etcd-proto-manifest.js';

const rpcProto = join(
  dirname(createRequire(import.meta.url).resolve('etcd3/package.json')),
  'proto',
  'rpc.proto',
);
// What etcd3 itself builds at load (unbundled), the reference for what the bundle builds instead.
const reference = loadSync(rpcProto, ETCD_PROTO_OPTIONS) as unknown as EtcdPackageDefinition;
const manifest = etcdProtoManifest(rpcProto);
const ours = etcdPackageDefinition(manifest.json, manifest.services, ETCD_PROTO_OPTIONS);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('etcd gRPC definition from the build-time manifest', () => {
  it('has the services and methods of proto-loader, with the same paths, streaming and aliases', () => {
    const services = Object.keys(reference).filter((k) => !('format' in reference[k]!));
    expect(Object.keys(ours).sort()).toEqual(services.sort());
    expect(services).toContain('etcdserverpb.KV');
    for (const s of services) {
      const ref = reference[s]!;
      expect(Object.keys(ours[s]!).sort(), s).toEqual(Object.keys(ref).sort());
      for (const [name, m] of Object.entries(ref)) {
        const o = ours[s]![name]!;
        expect([o.path, o.requestStream, o.responseStream, o.originalName], `${s}.${name}`).toEqual([
          m.path,
          m.requestStream,
          m.responseStream,
          m.originalName,
        ]);
      }
    }
    // The aliases etcd3 calls: lodash camel case, not a plain lower-casing of the first letter.
    expect(ours['etcdserverpb.Maintenance']!['HashKV']!.originalName).toBe('hashKv');
    expect(ours['etcdserverpb.Watch']!['Watch']!.requestStream).toBe(true);
  });

  it('encodes requests to the protobuf wire bytes (known answers from the encoding spec)', () => {
    // RangeRequest.key = 1 (bytes): tag 0x0a, length 3, "foo".
    expect(hex(ours['etcdserverpb.KV']!['Range']!.requestSerialize({ key: Buffer.from('foo') }))).toBe(
      '0a03666f6f',
    );
    // WatchRequest.create_request = 1 { key = 1: "a", filters = 5: [Nodelete (1)] packed }.
    const watch = { create_request: { key: Buffer.from('a'), filters: ['Nodelete'] } };
    expect(hex(ours['etcdserverpb.Watch']!['Watch']!.requestSerialize(watch))).toBe('0a060a01612a0101');
  });

  it('encodes and decodes as proto-loader does', () => {
    const cases: Array<[string, string, object]> = [
      [
        'etcdserverpb.KV',
        'Range',
        {
          key: Buffer.from('/coreos.com/network/subnets/'),
          range_end: Buffer.from('/coreos.com/network/subnets0'),
          limit: '10',
          sort_order: 'Descend',
          serializable: true,
        },
      ],
      [
        'etcdserverpb.KV',
        'Put',
        {
          key: Buffer.from('k'),
          value: Buffer.from('{"PublicIP":"10.0.0.1"}'),
          lease: '7587862',
          prev_kv: true,
        },
      ],
      ['etcdserverpb.Lease', 'LeaseGrant', { TTL: '86400', ID: '0' }],
      [
        'etcdserverpb.Watch',
        'Watch',
        {
          create_request: {
            key: Buffer.from('/p/'),
            range_end: Buffer.from('/p0'),
            start_revision: '42',
            filters: ['Noput', 'Nodelete'],
            prev_kv: true,
          },
        },
      ],
      ['etcdserverpb.Watch', 'Watch', { cancel_request: { watch_id: '3' } }],
    ];
    for (const [s, m, req] of cases) {
      const ref = reference[s]![m]!;
      const mine = ours[s]![m]!;
      const bytes = ref.requestSerialize(req);
      expect(hex(mine.requestSerialize(req)), `${s}.${m}`).toBe(hex(bytes));
      expect(mine.requestDeserialize(bytes), `${s}.${m}`).toEqual(ref.requestDeserialize(bytes));
    }
    // A watch response with events and int64 fields, as etcd sends them; decoded (longs and enums as strings).
    const res = {
      header: {
        cluster_id: '14841639068965178418',
        member_id: '10276657743932975437',
        revision: '99',
        raft_term: '2',
      },
      watch_id: '1',
      events: [
        {
          type: 'Put',
          kv: {
            key: Buffer.from('/p/a'),
            create_revision: '98',
            mod_revision: '99',
            version: '2',
            value: Buffer.from('x'),
            lease: '5',
          },
        },
        { type: 'Delete', kv: { key: Buffer.from('/p/b'), mod_revision: '99' } },
      ],
    };
    const watch = reference['etcdserverpb.Watch']!['Watch']!;
    const resBytes = watch.responseSerialize(res);
    expect(hex(ours['etcdserverpb.Watch']!['Watch']!.responseSerialize(res))).toBe(hex(resBytes));
    const decoded = ours['etcdserverpb.Watch']!['Watch']!.responseDeserialize(resBytes);
    expect(decoded).toEqual(watch.responseDeserialize(resBytes));
    expect(decoded).toMatchObject({ watch_id: '1', events: [{ type: 'Put' }, { type: 'Delete' }] });
  });

  it('refuses an array as a message, as proto-loader does', () => {
    expect(() => ours['etcdserverpb.KV']!['Range']!.requestSerialize([] as unknown as object)).toThrow(
      /array/,
    );
  });
});

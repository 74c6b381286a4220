/**
 * Build time (tools/bundle.mjs): etcd3's rpc.proto parsed by the protobufjs and proto-loader etcd3
 * itself uses, with etcd3's options, reduced to what etcdPackageDefinition() needs at run time —
 * the parsed tree, and each method's path, streaming, alias and message types as proto-loader's
 * loadSync names them. Never loaded by the daemon.
 */
import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import type { EtcdServicesManifest, EtcdMethodManifest } from './etcd-grpc-definition.js';

/** The options etcd3's connection-pool.js passes to loadSync (keepCase decides field names at parse). */
export const ETCD_PROTO_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

export interface EtcdProtoManifest {
  readonly json: protobuf.INamespace;
  readonly services: EtcdServicesManifest;
}

export function etcdProtoManifest(protoPath: string): EtcdProtoManifest {
  const root = new protobuf.Root().loadSync(protoPath, ETCD_PROTO_OPTIONS);
  root.resolveAll();
  const def = loadSync(protoPath, ETCD_PROTO_OPTIONS);
  const services: Record<string, Record<string, EtcdMethodManifest>> = {};
  for (const [fqn, entry] of Object.entries(def)) {
    if ('format' in entry) continue; // a message or enum type, not a service
    const service = root.lookupService(fqn);
    const methods: Record<string, EtcdMethodManifest> = {};
    for (const [name, m] of Object.entries(entry as ServiceDefinition)) {
      const method = service.methods[name];
      if (!method?.resolvedRequestType || !method.resolvedResponseType)
        throw new Error(`etcd-proto-manifest: ${fqn}.${name} has no resolved message types`);
      methods[name] = {
        path: m.path,
        requestStream: m.requestStream,
        responseStream: m.responseStream,
        originalName: m.originalName ?? name,
        requestType: method.resolvedRequestType.fullName.replace(/^\./, ''),
        responseType: method.resolvedResponseType.fullName.replace(/^\./, ''),
      };
    }
    services[fqn] = methods;
  }
  return { json: root.toJSON(), services };
}

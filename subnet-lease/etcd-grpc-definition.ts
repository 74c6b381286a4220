/**
 * etcd's gRPC services as a grpc-js package definition, built from rpc.proto parsed at build time
 * (tools/etcd-proto.mjs) instead of at start-up. The bundled daemon (tools/bundle.mjs) hands this
 * to etcd3 in place of proto-loader's loadSync(rpc.proto): same method paths, names and codecs.
 *
 * Why not proto-loader's fromJSON: besides the codecs, proto-loader builds a descriptor object
 * (and encodes a FileDescriptorProto) for every message, for server reflection — a grpc-js client
 * never reads them, and on 2 busy vCPUs they were ~100 ms of each daemon's start. Here nothing is
 * built until a method is first called, and then only that method's two message types.
 *
 * The codecs do what proto-loader's do: fromObject + encode to send, decode + toObject (with
 * etcd3's options: longs and enums as strings, defaults, oneofs) on receipt.
 */
import protobuf from 'protobufjs';

/** One method as proto-loader's loadSync named it (recorded at build time). */
export interface EtcdMethodManifest {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  /** The camel-case alias etcd3 calls (`range` for Range, `hashKv` for HashKV). */
  readonly originalName: string;
  /** Fully qualified message type names, e.g. "etcdserverpb.RangeRequest". */
  readonly requestType: string;
  readonly responseType: string;
}

/** Service full name → method name → method. */
export type EtcdServicesManifest = Readonly<Record<string, Readonly<Record<string, EtcdMethodManifest>>>>;

interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName: string;
  requestSerialize: (value: object) => Buffer;
  requestDeserialize: (bytes: Buffer) => object;
  responseSerialize: (value: object) => Buffer;
  responseDeserialize: (bytes: Buffer) => object;
}

export type EtcdPackageDefinition = Record<string, Record<string, MethodDefinition>>;

/**
 * @param protoJson protobufjs's JSON of the parsed .proto files (Root#toJSON)
 * @param services what loadSync made of them, minus the codecs
 * @param options etcd3's proto-loader options (toObject's conversion options)
 */
export function etcdPackageDefinition(
  protoJson: protobuf.INamespace,
  services: EtcdServicesManifest,
  options: protobuf.IConversionOptions,
): EtcdPackageDefinition {
  let root: protobuf.Root | undefined;
  const types = new Map<string, protobuf.Type>();
  const typeOf = (name: string): protobuf.Type => {
    let t = types.get(name);
    if (t === undefined) {
      if (root === undefined) {
        root = protobuf.Root.fromJSON(protoJson);
        // As loadSync does: resolves every field's type and its (proto3) features, e.g. packed repeated fields.
        root.resolveAll();
      }
      t = root.lookupType(name);
      types.set(name, t);
    }
    return t;
  };
  const serializer =
    (name: string) =>
    (value: object): Buffer => {
      if (Array.isArray(value)) throw new Error(`cannot serialize an array as ${name}`);
      const t = typeOf(name);
      // protobufjs's writer makes a Buffer under node, as grpc-js needs.
      return t.encode(t.fromObject(value)).finish() as Buffer;
    };
  const deserializer =
    (name: string) =>
    (bytes: Buffer): object => {
      const t = typeOf(name);
      return t.toObject(t.decode(bytes), options);
    };
  const def: EtcdPackageDefinition = {};
  for (const [service, methods] of Object.entries(services)) {
    const s: Record<string, MethodDefinition> = {};
    for (const [name, m] of Object.entries(methods))
      s[name] = {
        path: m.path,
        requestStream: m.requestStream,
        responseStream: m.responseStream,
        originalName: m.originalName,
        requestSerialize: serializer(m.requestType),
        requestDeserialize: deserializer(m.requestType),
        responseSerialize: serializer(m.responseType),
        responseDeserialize: deserializer(m.responseType),
      };
    def[service] = s;
  }
  return def;
}

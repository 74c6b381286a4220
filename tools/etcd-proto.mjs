// @ts-check
/**
 * etcd3's rpc.proto, parsed at build time (tools/bundle.mjs). etcd3's lib/connection-pool.js
 * calls proto-loader's loadSync(rpc.proto, OPTIONS) when it is loaded, which parses 36 kB of
 * .proto text and builds reflection descriptors on every start. The bundle calls
 * subnet-lease/etcd-grpc-definition.ts instead, with what loadSync produced at build time
 * (subnet-lease/etcd-proto-manifest.ts: the parsed tree; each method's path, streaming, alias
 * and message types).
 *
 * Anything else in that call (another file, other options) is refused, so an etcd3 upgrade that
 * changes it fails the build, never the wire.
 */

/** The require of proto-loader and the call, as etcd3 1.1.x writes them (compiled TypeScript). */
const REQUIRE_LINE = 'const proto_loader_1 = require("@grpc/proto-loader");';
const LOAD_CALL =
  /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, (\{\s*keepCase: true,\s*longs: String,\s*enums: String,\s*defaults: true,\s*oneofs: true,\s*\})\)/;

/**
 * etcd3's connection-pool.js with loadSync of rpc.proto replaced by etcdPackageDefinition().
 * @param {string} source
 * @param {{ json: unknown, services: unknown }} manifest
 * @param {string} definitionModule the path of dist/subnet-lease/etcd-grpc-definition.js
 */
export function replaceEtcdProtoLoad(source, manifest, definitionModule) {
  const m = LOAD_CALL.exec(source);
  if (!m || !source.includes(REQUIRE_LINE))
    throw new Error(
      'tools/etcd-proto.mjs: etcd3/lib/connection-pool.js no longer loads rpc.proto as expected ' +
        '(proto-loader loadSync with keepCase/longs/enums/defaults/oneofs); update it for this etcd3 version',
    );
  const call =
    `require(${JSON.stringify(definitionModule)}).etcdPackageDefinition(` +
    `${JSON.stringify(manifest.json)}, ${JSON.stringify(manifest.services)}, ${m[1]})`;
  // proto-loader itself is then not needed: not loading it saves its descriptor extension too.
  return source.replace(REQUIRE_LINE, '').replace(LOAD_CALL, () => call);
}

// Public surface of the test environment (e2e tests, benchmarks and `brupop demo`).
export {
  startCluster,
  freePorts,
  tailLog,
  SERVICE_ACCOUNT_ISSUER,
  SERVICE_CLUSTER_IP_RANGE,
  type StartClusterOptions,
  type AddNodesOptions,
  type TestCluster,
} from "./cluster.js";
export {
  createCA,
  createKeyPair,
  issueCert,
  parseCert,
  type CertificateAuthority,
  type IssuedCert,
} from "./pki.js";
export { binDir, requireBinaries, versionKey, readVersions, BINARIES } from "./paths.js";
export { KWOK_NODE_ANNOTATION, kwokNodeManifest, isNodeReady } from "./nodes.js";
export { liveProcessGroupCount } from "./process.js";
export { renderKubeconfig } from "./kubeconfig.js";

// TLS fixtures for tests: ONE test CA per process and serving certificates issued from it once per
// distinct request and reused (each issue is an `openssl` run), plus a tls.crt/tls.key directory
// the way cert-manager mounts it. Tests that need a fresh CA of their own (e.g. to prove a reload)
// call kit/testenv/pki.ts directly.
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCA,
  issueCert,
  type CertificateAuthority,
  type IssueCertOptions,
  type IssuedCert,
} from "../../kit/testenv/pki.js";

export type { CertificateAuthority, IssuedCert } from "../../kit/testenv/pki.js";

let processCa: Promise<CertificateAuthority> | undefined;
const issued = new Map<string, Promise<IssuedCert>>();

/** The process's test CA (created on first use). */
export function testCa(): Promise<CertificateAuthority> {
  processCa ??= createCA({ commonName: "brupop-test-root" });
  return processCa;
}

/** What a certificate is for, without the CA (the kit's CA signs it). */
export type CertRequest = Omit<IssueCertOptions, "ca">;

/** The apiserver's serving certificate on loopback (what the e2e and unit tests connect to). */
export const APISERVER_CERT: CertRequest = {
  commonName: "brupop-apiserver",
  dnsNames: ["localhost", "brupop-apiserver", "brupop-apiserver.brupop-bottlerocket-aws.svc.cluster.local"],
  ipAddresses: ["127.0.0.1"],
  usage: "server",
};

/** A certificate from the process's CA; the same request answers the same certificate. */
export function testCert(req: CertRequest = APISERVER_CERT): Promise<IssuedCert> {
  const key = JSON.stringify(req);
  let cert = issued.get(key);
  if (cert === undefined) {
    cert = testCa().then((ca) => issueCert({ ...req, ca }));
    issued.set(key, cert);
  }
  return cert;
}

/** A freshly issued certificate from `ca` (or the process's CA), never cached: for reload tests. */
export async function freshCert(
  req: CertRequest = APISERVER_CERT,
  ca?: CertificateAuthority,
): Promise<IssuedCert> {
  return issueCert({ ...req, ca: ca ?? (await testCa()) });
}

/** Writes tls.crt and tls.key into `dir`, each atomically (a watcher never sees half a file). */
export async function writeTlsPair(dir: string, cert: IssuedCert): Promise<void> {
  await writeFile(join(dir, "tls.key.tmp"), cert.keyPem);
  await writeFile(join(dir, "tls.crt.tmp"), cert.certPem);
  await rename(join(dir, "tls.key.tmp"), join(dir, "tls.key"));
  await rename(join(dir, "tls.crt.tmp"), join(dir, "tls.crt"));
}

export interface TlsDir {
  readonly dir: string;
  /** The CA's certificate, to trust the server. */
  readonly caPem: string;
  readonly cert: IssuedCert;
  remove(): Promise<void>;
}

/** A temporary directory holding the kit's serving certificate (or `cert`), as cert-manager mounts it. */
export async function tlsDir(prefix = "brupop-test-tls-", cert?: IssuedCert): Promise<TlsDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const pair = cert ?? (await testCert());
  await writeTlsPair(dir, pair);
  return {
    dir,
    caPem: (await testCa()).certPem,
    cert: pair,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

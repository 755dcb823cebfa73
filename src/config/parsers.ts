// The small parsers every component's option table uses, in one place: whole numbers, ports,
// seconds, booleans, namespaces (name and the service-account file), cron. Each takes the raw text
// and the name of where it came from (`--flag` or `ENV_VAR`) and throws BRUPOP_E_CONFIG naming it,
// so a bad value ends the command with one `error: NAME: …` line and exit 2 (docs/cli.md).
import { readFileSync } from "node:fs";
import { BrupopError } from "../errors.js";
import { SERVICE_ACCOUNT_NAMESPACE_FILE } from "../k8s/access.js";
import { parseLabelSelector } from "../k8s/label-selector.js";

/** The error of a bad value: `NAME: message`, with the name in `details.variable`. */
export function configError(name: string, message: string): BrupopError {
  return new BrupopError("BRUPOP_E_CONFIG", `${name}: ${message}`, { variable: name });
}

/** `raw` as a whole number in [min, max] (digits only, a safe integer), else undefined. */
export function wholeNumberIn(raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = raw.trim();
  if (!/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

export function parseNonNegativeInt(raw: string, name: string): number {
  const n = wholeNumberIn(raw, 0);
  if (n === undefined) throw configError(name, `must be a non-negative integer, got "${raw}"`);
  return n;
}

export function parsePositiveInt(raw: string, name: string): number {
  const n = wholeNumberIn(raw, 1);
  if (n === undefined) throw configError(name, `must be a positive integer, got "${raw}"`);
  return n;
}

export function parsePort(raw: string, name: string): number {
  const n = wholeNumberIn(raw, 1, 65535);
  if (n === undefined) throw configError(name, `must be a port number 1-65535, got "${raw}"`);
  return n;
}

/** Any finite number (fractions allowed), for the flags given in seconds. */
export function parseNumber(raw: string, name: string): number {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw configError(name, `"${raw}" is not a number`);
  return n;
}

/** A positive number of seconds (fractions allowed), as milliseconds. */
export function parsePositiveSecondsAsMs(raw: string, name: string): number {
  const n = parseNumber(raw, name);
  if (n <= 0) throw configError(name, `must be a positive number of seconds, got ${n}`);
  return Math.round(n * 1000);
}

/** true or false, any case (also what a commander boolean flag hands over). */
export function parseBoolean(raw: string, name: string): boolean {
  const v = raw.trim().toLowerCase();
  if (v === "true" || v === "false") return v === "true";
  throw configError(name, `"${raw}" is not true or false`);
}

/** The text as given. */
export function parseString(raw: string): string {
  return raw;
}

/** Kubernetes namespace names are DNS-1123 labels. */
export const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Node names are DNS-1123 subdomains. */
export const NODE_NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export function isNamespaceName(value: string): boolean {
  return NAMESPACE_RE.test(value);
}

/** A node name (trimmed): a DNS-1123 subdomain. */
export function parseNodeName(raw: string, name: string): string {
  const node = raw.trim();
  if (!NODE_NAME_RE.test(node)) throw configError(name, `"${node}" is not a valid node name`);
  return node;
}

export function parseNamespace(raw: string, name: string): string {
  if (!isNamespaceName(raw)) throw configError(name, `"${raw}" is not a valid namespace name`);
  return raw;
}

/** The pod's namespace from the service-account mount (trimmed); undefined when not in a pod. */
export function readServiceAccountNamespace(path = SERVICE_ACCOUNT_NAMESPACE_FILE): string | undefined {
  try {
    const ns = readFileSync(path, "utf8").trim();
    return ns === "" ? undefined : ns;
  } catch {
    return undefined;
  }
}

export type NamespaceSource = "flag" | "service-account" | "default";

/**
 * The namespace a component works in: `--namespace`, else the pod's (service-account mount). With
 * no `fallback` neither is an error naming --namespace; with one, its namespace is used and `warn`
 * says so (the controller run outside a pod).
 */
export function resolveNamespace(
  flag: string | undefined,
  readFile: () => string | undefined = readServiceAccountNamespace,
  fallback?: { namespace: string; warn: (message: string) => void },
): { namespace: string; source: NamespaceSource } {
  if (flag !== undefined) return { namespace: parseNamespace(flag, "--namespace"), source: "flag" };
  const fromFile = readFile()?.trim();
  if (fromFile !== undefined && fromFile !== "") {
    return { namespace: parseNamespace(fromFile, "--namespace"), source: "service-account" };
  }
  if (fallback === undefined) {
    throw configError(
      "--namespace",
      `required when ${SERVICE_ACCOUNT_NAMESPACE_FILE} does not exist (not running in a pod)`,
    );
  }
  fallback.warn(`no --namespace and no service-account namespace file; using "${fallback.namespace}"`);
  return { namespace: fallback.namespace, source: "default" };
}

/**
 * A label selector's text (`a=b,c!=d,e in (x,y),!f`), checked by the one parser every component
 * uses (k8s/label-selector.ts); empty → undefined (no selector).
 */
export function parseSelectorText(raw: string, name: string): string | undefined {
  const v = raw.trim();
  if (v === "") return undefined;
  try {
    parseLabelSelector(v);
  } catch (err) {
    throw configError(
      name,
      `"${raw}" is not a label selector: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return v;
}

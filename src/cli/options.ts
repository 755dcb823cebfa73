// Parsers for CLI flag values: each rejects bad input with BRUPOP_E_CONFIG naming the flag.
import type { LevelWithSilent } from "pino";
import { BrupopError } from "../errors.js";
import { parseLogLevel } from "../log.js";

export function parsePort(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > 65535) {
      throw new BrupopError("BRUPOP_E_CONFIG", `${flag}: must be a port number 1-65535, got "${value}"`);
    }
    return n;
  };
}

/** Kubernetes namespace names are DNS-1123 labels. */
export function parseNamespace(flag: string) {
  return (value: string): string => {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value)) {
      throw new BrupopError("BRUPOP_E_CONFIG", `${flag}: "${value}" is not a valid namespace name`);
    }
    return value;
  };
}

/** `--log-level`: a level name or a tracing directive, as TRACING_FILTER_DIRECTIVE takes. */
export function parseLogLevelFlag(flag = "--log-level") {
  return (value: string): LevelWithSilent => parseLogLevel(value, flag);
}

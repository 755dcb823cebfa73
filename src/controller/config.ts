// Controller configuration, read and validated once at start-up (SPEC §3). Every error names the
// environment variable so a misconfigured Deployment fails fast and says why.
import { BrupopError } from "../errors.js";
import type { ConcurrencyLimit } from "./decisions.js";

export function parseMaxConcurrentUpdate(value: string | undefined): ConcurrencyLimit {
  if (value === undefined || value.trim() === "") return 1;
  const v = value.trim();
  if (v.toLowerCase() === "unlimited") return "unlimited";
  // 0 is valid, as upstream: nodes in progress finish, no node starts (a pause switch).
  if (/^\+?\d+$/.test(v) && Number.isSafeInteger(Number(v))) return Number(v); // Rust usize::from_str allows "+"
  throw new BrupopError(
    "BRUPOP_E_CONFIG",
    `MAX_CONCURRENT_UPDATE: must be a whole number (0 pauses updates) or "unlimited", got "${value}"`,
    { variable: "MAX_CONCURRENT_UPDATE" },
  );
}

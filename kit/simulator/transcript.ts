// Transcripts of the host API: a script of requests (and of what happens around them: a command
// finishing, a fault, a boot) with the answers the REAL Bottlerocket API gave, as our own test data
// (kit/simulator/transcripts/*.json). transcripts.test.ts replays each against the simulator, so
// any drift from the real API fails `npm test` without the real binaries; test/realhost replays and
// records them against the real apiserver + thar-be-updates when those are built.
//
// Normalised: a command timestamp is "<timestamp>" (checked to be RFC 3339 first), the build id
// "<build_id>" (8 hex digits); everything else is compared exactly, key order included.
import { isDeepStrictEqual } from "node:util";

export interface TranscriptRequest {
  method: "GET" | "POST" | "PATCH";
  path: string;
  /** A request body, sent as is. */
  body?: string;
  /** Request headers; default: `content-type: application/json` when there is a body. */
  headers?: Record<string, string>;
}

/** What came back. Exactly one of json / text / textPrefix / jsonSubset, or none (204, or status only). */
export interface TranscriptAnswer {
  status: number;
  /** The whole JSON body, normalised. */
  json?: unknown;
  /** Only these fields of a JSON object body (what was recorded of it; objects nest as subsets), normalised. */
  jsonSubset?: Record<string, unknown>;
  /** The whole text body. */
  text?: string;
  /** The text body starts with this (a serde message whose tail names the input position). */
  textPrefix?: string;
}

export type TranscriptStep =
  | { request: TranscriptRequest; answer: TranscriptAnswer; note?: string }
  /** The running update command finishes (the real driver polls until the lock is free). */
  | { wait: "command"; note?: string }
  /** The next command of this type fails (updog exits non-zero with this stderr). */
  | {
      fault: { fail: "refresh" | "prepare" | "activate" | "deactivate"; stderr: string; exitStatus: number };
      note?: string;
    }
  /**
   * The host goes down and boots its next-to-boot image. `seeded`: the harness writes the status a
   * first command would create (it never lets thar-be-updates run signpost).
   */
  | { boot: { seeded: boolean }; note?: string };

export interface Transcript {
  title: string;
  /** Where the answers come from (a real run, or the recipe's recorded codes and bodies). */
  source: string;
  host: {
    version: string;
    variant: string;
    arch: string;
    /** Versions the repository offers besides the running one (updog `whats --all`). */
    releases: string[];
    /** The harness seeded the status before the first request. */
    seeded: boolean;
  };
  steps: TranscriptStep[];
}

export interface RawAnswer {
  status: number;
  body: string;
}

/** What replays a transcript: the simulator (manual time) or the real host (its harness). */
export interface TranscriptDriver {
  request(req: TranscriptRequest): Promise<RawAnswer>;
  waitForCommand(): Promise<void>;
  fault(f: {
    fail: "refresh" | "prepare" | "activate" | "deactivate";
    stderr: string;
    exitStatus: number;
  }): Promise<void>;
  boot(seeded: boolean): Promise<void>;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Replaces what differs between runs (command timestamps, build id) with placeholders. */
export function normalise(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(normalise);
  if (typeof body !== "object" || body === null) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k === "timestamp" && typeof v === "string" && RFC3339.test(v)) out[k] = "<timestamp>";
    else if (k === "build_id" && typeof v === "string" && /^[0-9a-f]{8}$/.test(v)) out[k] = "<build_id>";
    else out[k] = normalise(v);
  }
  return out;
}

/** The recorded form of an answer (for writing a transcript from a real run). */
export function record(raw: RawAnswer): TranscriptAnswer {
  if (raw.body === "") return { status: raw.status };
  try {
    return { status: raw.status, json: normalise(JSON.parse(raw.body)) };
  } catch {
    return { status: raw.status, text: raw.body };
  }
}

/** Why an answer does not match the transcript, or undefined when it does. */
export function mismatch(expected: TranscriptAnswer, raw: RawAnswer): string | undefined {
  const got = `${raw.status} ${raw.body}`;
  if (raw.status !== expected.status) return `status ${raw.status}, expected ${expected.status} (got ${got})`;
  if (expected.text !== undefined && raw.body !== expected.text) {
    return `body ${JSON.stringify(raw.body)}, expected ${JSON.stringify(expected.text)}`;
  }
  if (expected.textPrefix !== undefined && !raw.body.startsWith(expected.textPrefix)) {
    return `body ${JSON.stringify(raw.body)}, expected to start with ${JSON.stringify(expected.textPrefix)}`;
  }
  if (expected.json === undefined && expected.jsonSubset === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = normalise(JSON.parse(raw.body));
  } catch {
    return `body is not JSON: ${got}`;
  }
  if (expected.json !== undefined) {
    // Key order counts too: the real API's serialisation order is part of what we match.
    if (JSON.stringify(parsed) !== JSON.stringify(expected.json)) {
      return `body ${JSON.stringify(parsed)}, expected ${JSON.stringify(expected.json)}`;
    }
    return undefined;
  }
  return subsetMismatch(parsed, expected.jsonSubset ?? {}, "body");
}

/** An object in the subset matches an object holding at least its fields (recursively); anything else matches exactly. */
function subsetMismatch(actual: unknown, expected: unknown, at: string): string | undefined {
  if (isObject(expected)) {
    if (!isObject(actual)) return `${at} is ${JSON.stringify(actual)}, expected an object`;
    for (const [k, v] of Object.entries(expected)) {
      const why = subsetMismatch(actual[k], v, `${at}.${k}`);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  return isDeepStrictEqual(actual, expected)
    ? undefined
    : `${at} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Plays every step; the failures (step index, request, why), none when the driver matches the transcript. */
export async function replay(t: Transcript, driver: TranscriptDriver): Promise<string[]> {
  const failures: string[] = [];
  for (const [i, step] of t.steps.entries()) {
    if ("wait" in step) await driver.waitForCommand();
    else if ("fault" in step) await driver.fault(step.fault);
    else if ("boot" in step) await driver.boot(step.boot.seeded);
    else {
      const raw = await driver.request(step.request);
      const why = mismatch(step.answer, raw);
      if (why !== undefined) failures.push(`step ${i}: ${step.request.method} ${step.request.path}: ${why}`);
    }
  }
  return failures;
}

/** Checks a parsed file is a transcript (a clear error naming the problem, for hand-edited data). */
export function parseTranscript(name: string, value: unknown): Transcript {
  const why = transcriptProblem(value);
  if (why !== undefined) throw new TypeError(`transcript ${name}: ${why}`);
  return value as Transcript;
}

function transcriptProblem(value: unknown): string | undefined {
  if (!isObject(value)) return "not an object";
  if (typeof value.title !== "string" || typeof value.source !== "string") return "needs title and source";
  const h = value.host;
  if (!isObject(h) || typeof h.version !== "string" || !Array.isArray(h.releases)) {
    return "needs host.version and host.releases";
  }
  if (!Array.isArray(value.steps) || value.steps.length === 0) return "needs steps";
  for (const [i, s] of (value.steps as unknown[]).entries()) {
    const kinds = isObject(s) ? ["request", "wait", "fault", "boot"].filter((k) => k in s) : [];
    if (kinds.length !== 1) return `step ${i} must be one of request / wait / fault / boot`;
    const answer = (s as Record<string, unknown>).answer;
    if (kinds[0] === "request" && !(isObject(answer) && typeof answer.status === "number")) {
      return `step ${i} has no answer.status`;
    }
  }
  return undefined;
}

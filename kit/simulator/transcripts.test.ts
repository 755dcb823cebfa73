// Replays every recorded transcript of the real Bottlerocket API (kit/simulator/transcripts/*.json)
// against the simulator over its socket: any drift between the two fails here, without the real
// binaries. test/realhost replays the same files against the real API when it is built.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { raw, serveManualHost } from "./test-helpers.js";
import {
  mismatch,
  normalise,
  parseTranscript,
  record,
  replay,
  type Transcript,
  type TranscriptDriver,
} from "./transcript.js";

const DIR = join(fileURLToPath(new URL(".", import.meta.url)), "transcripts");
const DURATIONS = {
  refresh: 100,
  prepare: 2_000,
  activate: 50,
  deactivate: 50,
  shutdown: 100,
  reboot: 1_000,
};

/** The transcripts, and those test/realhost recorded from a real run (./transcripts/recorded). */
async function load(): Promise<Transcript[]> {
  const names = async (dir: string): Promise<string[]> =>
    (await readdir(dir).catch(() => [] as string[]))
      .filter((n) => n.endsWith(".json"))
      .sort()
      .map((n) => join(dir, n));
  const files = [...(await names(DIR)), ...(await names(join(DIR, "recorded")))];
  return Promise.all(
    files.map(async (f) => parseTranscript(f, JSON.parse(await readFile(f, "utf8")) as unknown)),
  );
}

type Env = Awaited<ReturnType<typeof serveManualHost>>;

/** The simulator on manual time, set up as the transcript's host was. */
async function simulate(t: Transcript): Promise<{ env: Env; driver: TranscriptDriver }> {
  const env = await serveManualHost({
    version: t.host.version,
    variant: t.host.variant,
    arch: t.host.arch,
    durations: DURATIONS,
    releases: t.host.releases.map((version) => ({ version, releasedAt: 0 })),
  });
  if (t.host.seeded) env.host.initializeStatus();
  const driver: TranscriptDriver = {
    request: (r) =>
      raw(
        env.socketPath,
        r.method,
        r.path,
        r.body,
        r.headers ?? (r.body === undefined ? {} : { "content-type": "application/json" }),
      ),
    waitForCommand: () => {
      assert.notEqual(env.host.runningCommand, null, "the transcript waits for a command, none runs");
      env.timers.advance(Math.max(DURATIONS.refresh, DURATIONS.prepare, DURATIONS.activate));
      assert.equal(env.host.runningCommand, null);
      return Promise.resolve();
    },
    fault: (f) => {
      env.host.failCommand(f.fail, { times: 1, stderr: f.stderr, exitStatus: f.exitStatus });
      return Promise.resolve();
    },
    boot: async (seeded) => {
      assert.ok(env.host.shuttingDown, "the transcript boots a host that was not asked to reboot");
      env.timers.advance(DURATIONS.shutdown);
      await env.server.settled();
      env.timers.advance(DURATIONS.reboot);
      await env.server.settled();
      if (seeded) env.host.initializeStatus();
    },
  };
  return { env, driver };
}

describe("the simulator answers every recorded exchange of the real API", async () => {
  const transcripts = await load();
  it("has transcripts to replay", () => assert.ok(transcripts.length >= 5, `${transcripts.length} found`));
  for (const t of transcripts) {
    it(t.title, async () => {
      const { env, driver } = await simulate(t);
      try {
        assert.deepEqual(await replay(t, driver), []);
      } finally {
        await env.close();
      }
    });
  }
});

describe("transcript replay catches drift", () => {
  it("a changed text, status, field or key order is reported", async () => {
    const [t] = (await load()).filter((x) => x.steps.some((s) => "request" in s && s.answer.status === 423));
    assert.ok(t !== undefined);
    const drifted: Transcript = structuredClone(t);
    for (const s of drifted.steps) {
      if ("request" in s && s.answer.status === 423) s.answer.text = "update lock held: prepare in progress";
    }
    const { env, driver } = await simulate(drifted);
    try {
      const failures = await replay(drifted, driver);
      assert.ok(failures.length >= 1, "the old simulator wording would not pass");
      assert.match(failures[0] ?? "", /step \d+: GET \/updates\/status: body/);
    } finally {
      await env.close();
    }
    assert.match(mismatch({ status: 204 }, { status: 409, body: "x" }) ?? "", /status 409, expected 204/);
    assert.match(
      mismatch({ status: 200, json: { a: 1, b: 2 } }, { status: 200, body: '{"b":2,"a":1}' }) ?? "",
      /expected/,
      "key order counts",
    );
    assert.match(
      mismatch(
        { status: 200, jsonSubset: { most_recent_command: { cmd_status: "Failed" } } },
        { status: 200, body: '{"most_recent_command":{"cmd_status":"Success"}}' },
      ) ?? "",
      /body\.most_recent_command\.cmd_status is "Success"/,
    );
    assert.equal(
      mismatch({ status: 400, textPrefix: "Json" }, { status: 400, body: "Json deserialize error: x" }),
      undefined,
    );
  });

  it("normalises timestamps and build ids, and records answers in the transcript form", () => {
    assert.deepEqual(
      normalise({
        build_id: "a3e8bda1",
        most_recent_command: { timestamp: "2026-12-07T14:05:01.123456789Z" },
      }),
      {
        build_id: "<build_id>",
        most_recent_command: { timestamp: "<timestamp>" },
      },
    );
    assert.deepEqual(
      normalise({ timestamp: "yesterday" }),
      { timestamp: "yesterday" },
      "only real timestamps",
    );
    assert.deepEqual(record({ status: 204, body: "" }), { status: 204 });
    assert.deepEqual(record({ status: 423, body: "Update lock held" }), {
      status: 423,
      text: "Update lock held",
    });
    assert.deepEqual(record({ status: 200, body: '["k"]' }), { status: 200, json: ["k"] });
  });

  it("rejects a malformed transcript with a clear error", () => {
    assert.throws(
      () =>
        parseTranscript("x.json", {
          title: "t",
          source: "s",
          host: { version: "1", releases: [] },
          steps: [{}],
        }),
      /x\.json: step 0/,
    );
    assert.throws(() => parseTranscript("y.json", []), /y\.json/);
  });
});

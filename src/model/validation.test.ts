import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { Compile } from "typebox/compile";
import { OsInfoSchema, UpdateStatusSchema } from "../bottlerocket/types.js";
import { ShadowSpecSchema, ShadowStatusSchema, ShadowSpecV1Schema, ShadowStatusV1Schema } from "./shadow.js";
import { currentValidatorModule, GENERATED_FILE, schemaKey } from "./validator-codegen.js";
import { PRECOMPILED } from "./validators.generated.js";

const image = { arch: "x86_64", version: "1.20.0", variant: "aws-k8s-1.33" };
const status = {
  current_version: "1.19.0",
  target_version: "1.20.0",
  current_state: "Idle",
  crash_count: 0,
};
const update = {
  update_state: "Staged",
  available_updates: ["1.20.0", "1.19.0"],
  chosen_update: image,
  active_partition: { image, next_to_boot: false },
  staging_partition: null,
  most_recent_command: {
    cmd_type: "prepare",
    cmd_status: "Success",
    timestamp: "2026-11-24T10:00:00.123456789Z",
    exit_status: 0,
    stderr: "",
  },
};

// Each schema with values its check must accept and refuse, the same way TypeBox's compiler does.
const CASES = [
  {
    name: "spec",
    schema: ShadowSpecSchema,
    values: [
      { state: "Idle" },
      { state: "Idle", version: null, state_transition_timestamp: null },
      {
        state: "StagedAndPerformedUpdate",
        version: "1.20.0",
        state_transition_timestamp: "2026-11-24T10:00:00Z",
      },
      { state: "Idle", state_transition_timestamp: "yesterday" },
      { state: "Idle", version: "v1" },
      { state: "Nope" },
      { state: "Idle", extra: 1 },
      {},
      null,
      "Idle",
    ],
  },
  {
    name: "status",
    schema: ShadowStatusSchema,
    values: [
      status,
      { ...status, state_transition_failure_timestamp: "2026-11-24T10:00:00+01:00" },
      { ...status, crash_count: -1 },
      { ...status, crash_count: 1.5 },
      { ...status, crash_count: 4294967296 },
      { ...status, current_version: "1.19" },
      { ...status, current_state: "StagedUpdate" },
      { ...status, unknown: true },
      [],
    ],
  },
  {
    name: "spec v1",
    schema: ShadowSpecV1Schema,
    values: [
      { state: "Idle" },
      { state: "StagedUpdate", version: "1.0.0" },
      { state: "StagedAndPerformedUpdate" },
    ],
  },
  {
    name: "status v1",
    schema: ShadowStatusV1Schema,
    values: [
      { current_version: "1.0.0", target_version: "1.0.0", current_state: "PerformedUpdate" },
      { current_version: "1.0.0", target_version: "1.0.0", current_state: "Idle", crash_count: 0 },
    ],
  },
  {
    name: "host OS info",
    schema: OsInfoSchema,
    values: [
      {
        pretty_name: "Bottlerocket",
        variant_id: "aws-k8s-1.33",
        version_id: "1.19.0",
        build_id: "abc",
        arch: "x86_64",
      },
      {
        pretty_name: "Bottlerocket",
        variant_id: "aws-k8s-1.33",
        version_id: "1.19",
        build_id: "abc",
        arch: "x86_64",
      },
      {
        pretty_name: "Bottlerocket",
        variant_id: "v",
        version_id: "1.0.0",
        build_id: "b",
        arch: "a",
        more: 1,
      },
    ],
  },
  {
    name: "host update status",
    schema: UpdateStatusSchema,
    values: [
      update,
      { ...update, chosen_update: null, active_partition: null, most_recent_command: null },
      { ...update, update_state: "Waiting" },
      { ...update, available_updates: ["1.20"] },
      { ...update, active_partition: { image, next_to_boot: "yes" } },
      { ...update, most_recent_command: { ...update.most_recent_command, cmd_type: "reboot" } },
      { ...update, most_recent_command: { ...update.most_recent_command, timestamp: "2026-11-24" } },
      { ...update, most_recent_command: { ...update.most_recent_command, exit_status: 0.5 } },
    ],
  },
];

/** The modules that make validators: the same list as tools/bundle/validators.ts. */
async function loadWireModules(): Promise<void> {
  await import("./shadow.js");
  await import("../bottlerocket/types.js");
}

describe("precompiled validators (validators.generated.ts)", () => {
  it("are current: `npm run validators` would write the same file", async () => {
    assert.equal(
      await currentValidatorModule(loadWireModules),
      readFileSync(GENERATED_FILE, "utf8"),
      "src/model/validators.generated.ts is stale: run `npm run validators`",
    );
  });

  for (const c of CASES) {
    it(`${c.name}: accept and refuse exactly what TypeBox's compiler does`, () => {
      const check = PRECOMPILED.get(schemaKey(c.schema));
      assert.ok(check !== undefined, "a precompiled check exists");
      const compiled = Compile(c.schema);
      let accepted = 0;
      for (const v of c.values) {
        assert.equal(check(v), compiled.Check(v), JSON.stringify(v));
        if (check(v)) accepted++;
      }
      assert.ok((accepted > 0 && accepted < c.values.length) || c.values.length <= 3, "the table has both");
    });
  }
});

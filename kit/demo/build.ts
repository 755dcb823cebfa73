// The demo needs the Go-built control plane. `brupop demo` builds it itself (after checking its
// flags, so `--help` and a bad flag never wait for a 20-minute build): tools/testenv/build.sh prints
// its progress on stderr and returns at once when the binaries are cached.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { BrupopError } from "../../src/errors.js";
import { toolsDir } from "../testenv/paths.js";

/** Runs build.sh (progress on our stderr); resolves with its bin dir. */
export function ensureControlPlane(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const override = env["BRUPOP_TESTENV_BIN_DIR"];
  if (override !== undefined && override !== "") return Promise.resolve(override);
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(toolsDir(), "build.sh")], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.on("error", (err) =>
      reject(new BrupopError("BRUPOP_E_TESTENV", `cannot run tools/testenv/build.sh: ${err.message}`)),
    );
    child.on("exit", (code, signal) => {
      if (code === 0) resolve(out.trim().split("\n").at(-1));
      else
        reject(
          new BrupopError(
            "BRUPOP_E_TESTENV",
            `building the local control plane failed (${signal ?? `exit ${code}`}); see its output above`,
          ),
        );
    });
  });
}

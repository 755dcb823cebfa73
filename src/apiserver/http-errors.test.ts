import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BrupopError } from "../errors.js";
import { toHttpError } from "./http-errors.js";

function errno(code: string): Error {
  return Object.assign(new Error(`read ${code}`), { code });
}

describe("toHttpError", () => {
  const table: [string, unknown, number, string][] = [
    ["a reset connection to kube-apiserver: 502, retryable", errno("ECONNRESET"), 502, "BRUPOP_E_UPSTREAM"],
    ["kube-apiserver refusing connections: 502", errno("ECONNREFUSED"), 502, "BRUPOP_E_UPSTREAM"],
    [
      "a kube-apiserver request timed out (KubeRest's idle timeout): 502",
      errno("ETIMEDOUT"),
      502,
      "BRUPOP_E_UPSTREAM",
    ],
    ["any other thrown error: 500 without its text", new Error("secret detail"), 500, "BRUPOP_E_INTERNAL"],
    [
      "a catalogue error keeps its status",
      new BrupopError("BRUPOP_E_FORBIDDEN", "no"),
      403,
      "BRUPOP_E_FORBIDDEN",
    ],
    ["fastify's 404", { statusCode: 404, message: "Route not found" }, 404, "BRUPOP_E_NOT_FOUND"],
  ];
  for (const [title, err, status, code] of table) {
    it(title, () => {
      const h = toHttpError(err);
      assert.equal(h.status, status);
      assert.equal(h.body.code, code);
      assert.doesNotMatch(h.body.message, /secret/);
    });
  }
});

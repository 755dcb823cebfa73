import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { testCert, type IssuedCert } from "../../test/kit/tls.js";
import { isBrupopError } from "../errors.js";
import { silentLogger } from "../log.js";
import { loadTlsPair, TlsReloader, type TlsPair } from "./tls.js";

describe("TLS loading and reloading", () => {
  let dir: string;
  let first: IssuedCert;
  let second: IssuedCert;

  const put = async (cert: string, key: string): Promise<void> => {
    await writeFile(join(dir, "tls.crt"), cert);
    await writeFile(join(dir, "tls.key"), key);
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "brupop-tls-test-"));
    [first, second] = await Promise.all([
      testCert({ commonName: "one", ipAddresses: ["127.0.0.1"], usage: "server" }),
      testCert({ commonName: "two", ipAddresses: ["127.0.0.1"], usage: "server" }),
    ]);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loadTlsPair reads a matching pair", async () => {
    await put(first.certPem, first.keyPem);
    assert.deepEqual(await loadTlsPair(dir), { cert: first.certPem, key: first.keyPem });
  });

  it("loadTlsPair refuses a mismatched pair and a missing file with BRUPOP_E_CONFIG", async () => {
    await put(first.certPem, second.keyPem);
    await assert.rejects(
      loadTlsPair(dir),
      (err) => isBrupopError(err, "BRUPOP_E_CONFIG") && /do not load/.test(err.message),
    );
    await assert.rejects(loadTlsPair(join(dir, "missing")), (err) => isBrupopError(err, "BRUPOP_E_CONFIG"));
  });

  it("applies a new pair once, keeps the old one on a bad pair, ignores unchanged files", async () => {
    await put(first.certPem, first.keyPem);
    const applied: TlsPair[] = [];
    const results: string[] = [];
    const reloader = new TlsReloader({
      dir,
      logger: silentLogger(),
      initial: { cert: first.certPem, key: first.keyPem },
      apply: (p) => applied.push(p),
      onReload: (r) => results.push(r),
      pollIntervalMs: 0,
    });
    assert.equal(await reloader.reload(), false, "unchanged files are not re-applied");

    await put(second.certPem, first.keyPem); // half-written rotation: cert new, key old
    assert.equal(await reloader.reload(), false);
    assert.equal(applied.length, 0);

    await put(second.certPem, second.keyPem);
    assert.equal(await reloader.reload(), true);
    assert.equal(await reloader.reload(), false);
    assert.deepEqual(applied, [{ cert: second.certPem, key: second.keyPem }]);
    assert.deepEqual(results, ["rejected", "ok"]);
    assert.equal(reloader.generation, 1);
  });

  it("notices a change through the directory watch, debounced", async () => {
    await put(first.certPem, first.keyPem);
    const applied: TlsPair[] = [];
    const reloader = new TlsReloader({
      dir,
      logger: silentLogger(),
      initial: { cert: first.certPem, key: first.keyPem },
      apply: (p) => applied.push(p),
      debounceMs: 50,
      pollIntervalMs: 0,
    });
    reloader.start();
    try {
      await put(second.certPem, second.keyPem);
      const deadline = Date.now() + 5_000;
      while (applied.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(applied.length, 1, "two file writes, one reload");
      assert.equal(applied[0]?.cert, second.certPem);
    } finally {
      reloader.stop();
    }
  });
});

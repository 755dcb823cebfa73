// Serving certificate from a directory (cert-manager's secret mount: tls.crt, tls.key, ca.crt), reloaded
// when it changes. Upstream restarted itself on every renewal; we swap the TLS context of the running
// server instead: connections already open keep the old certificate, new ones get the new one, and no
// request is dropped. A pair that does not load (half-written, mismatched key) is logged and the
// previous one stays in service; the next change event or poll tries again.
//
// Change detection: fs.watch on the directory (a kubelet secret update swaps the `..data` symlink,
// which shows up as a rename in the directory), debounced, plus a slow poll as a safety net for file
// systems where watch events do not arrive. A reload whose files did not change does nothing.
import { createHash } from "node:crypto";
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext } from "node:tls";
import type { Logger } from "pino";
import { BrupopError } from "../errors.js";

export const DEFAULT_TLS_DIR = "/etc/brupop-tls-keys";
export const TLS_CERT_FILE = "tls.crt";
export const TLS_KEY_FILE = "tls.key";
export const TLS_CA_FILE = "ca.crt";

export interface TlsPair {
  cert: string;
  key: string;
}

/** Reads and checks the pair (a mismatched key throws). Throws BRUPOP_E_CONFIG naming the problem. */
export async function loadTlsPair(dir: string): Promise<TlsPair> {
  let pair: TlsPair;
  try {
    const [cert, key] = await Promise.all([
      readFile(join(dir, TLS_CERT_FILE), "utf8"),
      readFile(join(dir, TLS_KEY_FILE), "utf8"),
    ]);
    pair = { cert, key };
  } catch (err) {
    throw new BrupopError("BRUPOP_E_CONFIG", `TLS dir ${dir}: cannot read ${TLS_CERT_FILE}/${TLS_KEY_FILE}`, {
      dir,
      cause: err instanceof Error ? err.message : String(err),
    });
  }
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new BrupopError("BRUPOP_E_CONFIG", `TLS dir ${dir}: certificate and key do not load together`, {
      dir,
      cause: err instanceof Error ? err.message : String(err),
    });
  }
  return pair;
}

function fingerprint(pair: TlsPair): string {
  return createHash("sha256").update(pair.cert).update("\0").update(pair.key).digest("hex");
}

export interface TlsReloaderOptions {
  dir: string;
  logger: Logger;
  /** Installs a new pair on the server (https.Server#setSecureContext). */
  apply: (pair: TlsPair) => void;
  /** The pair already in service (so an unchanged directory is not re-applied). */
  initial?: TlsPair;
  debounceMs?: number;
  /** Safety-net poll (default 60 s; 0 disables). */
  pollIntervalMs?: number;
  /** Told about each reload attempt that found new content (metrics). */
  onReload?: (result: "ok" | "rejected") => void;
}

export class TlsReloader {
  readonly #opts: TlsReloaderOptions;
  #current: string | undefined;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #running: Promise<boolean> | undefined;
  #again = false;
  /** How many new pairs were put into service. */
  generation = 0;

  constructor(opts: TlsReloaderOptions) {
    this.#opts = opts;
    this.#current = opts.initial === undefined ? undefined : fingerprint(opts.initial);
  }

  start(): void {
    try {
      this.#watcher = watch(this.#opts.dir, () => this.#schedule());
      this.#watcher.on("error", (err) => {
        this.#opts.logger.warn({ err, dir: this.#opts.dir }, "TLS dir watch failed; relying on polling");
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#opts.logger.warn({ err, dir: this.#opts.dir }, "cannot watch TLS dir; relying on polling");
    }
    const poll = this.#opts.pollIntervalMs ?? 60_000;
    if (poll > 0) {
      this.#poll = setInterval(() => void this.reload(), poll);
      this.#poll.unref();
    }
  }

  stop(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
  }

  #schedule(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.reload(), this.#opts.debounceMs ?? 250);
    this.#debounce.unref();
  }

  /**
   * Loads the directory and applies it if it changed. Resolves true when a new pair went into
   * service. Never rejects: a bad pair is logged and the current one kept.
   */
  reload(): Promise<boolean> {
    if (this.#running !== undefined) {
      // A change landed while we were reading: read once more when this pass ends.
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#reloadOnce().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        void this.reload();
      }
    });
    return this.#running;
  }

  async #reloadOnce(): Promise<boolean> {
    let pair: TlsPair;
    try {
      pair = await loadTlsPair(this.#opts.dir);
    } catch (err) {
      this.#opts.logger.error(
        { err, dir: this.#opts.dir },
        "new TLS certificate rejected; keeping the current one",
      );
      this.#opts.onReload?.("rejected");
      return false;
    }
    const fp = fingerprint(pair);
    if (fp === this.#current) return false;
    try {
      this.#opts.apply(pair);
    } catch (err) {
      this.#opts.logger.error(
        { err, dir: this.#opts.dir },
        "new TLS certificate rejected; keeping the current one",
      );
      this.#opts.onReload?.("rejected");
      return false;
    }
    this.#current = fp;
    this.generation++;
    this.#opts.onReload?.("ok");
    this.#opts.logger.info({ dir: this.#opts.dir, generation: this.generation }, "TLS certificate reloaded");
    return true;
  }
}

// The HTTP client core of brupop's three hand-written clients: Kubernetes (src/k8s/rest.ts), the
// agent's client of the brupop apiserver (src/apiserver/client.ts) and the Bottlerocket host API
// over its Unix socket (src/bottlerocket/transport.ts). One exchange: send a request, collect the
// answer's bytes, settle once. Timeouts (idle or total), the caller's abort signal, a body size cap
// and the mapping of transport errors are options, each handled here once; status codes are not
// interpreted (each client maps them to its own errors).
import http from "node:http";
import https from "node:https";

export interface ExchangeOptions {
  /** Options for node's http(s).request: method, headers, agent, socketPath, servername, ... */
  options: https.RequestOptions;
  /** When given, the request goes to this URL (options add to it); otherwise options say where. */
  url?: URL | undefined;
  /** https instead of http (default: from url's protocol, else http). */
  secure?: boolean | undefined;
  /** Request body, already serialized. */
  payload?: string | undefined;
  /** Socket inactivity timeout: the request is destroyed with onTimeout()'s error. */
  idleTimeoutMs?: number | undefined;
  /** Total deadline from the start of the request: settles with onTimeout()'s error. */
  deadlineMs?: number | undefined;
  onTimeout?: (() => Error) | undefined;
  /** Aborting it destroys the request (the listener is removed when the exchange settles). */
  signal?: AbortSignal | undefined;
  /** Answers larger than this settle with onTooLarge()'s error. */
  maxBodyBytes?: number | undefined;
  onTooLarge?: (() => Error) | undefined;
  /** Maps a transport error (request or response stream) before it rejects. */
  mapError?: ((err: Error) => Error) | undefined;
}

export interface Exchange {
  status: number;
  /** The answer's body as UTF-8. */
  text: string;
}

/** JSON when the text parses, the text itself when it does not (error pages), undefined when empty. */
export function parseBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A JSON request body and the headers that go with it (none when body is undefined). */
export function jsonPayload(
  body: unknown,
  contentType = "application/json",
): { payload: string | undefined; headers: Record<string, string> } {
  if (body === undefined) return { payload: undefined, headers: {} };
  const payload = JSON.stringify(body);
  return {
    payload,
    headers: { "Content-Type": contentType, "Content-Length": String(Buffer.byteLength(payload)) },
  };
}

/** Destroys `req` when `signal` aborts; returns the cleanup (long-lived signals must not collect listeners). */
export function destroyOnAbort(
  req: http.ClientRequest,
  signal: AbortSignal | undefined,
  reason: () => Error | undefined,
): () => void {
  if (signal === undefined) return () => undefined;
  const onAbort = (): void => void req.destroy(reason());
  if (signal.aborted) onAbort();
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/** Starts a request with http or https, to a URL or to where the options say. */
export function startRequest(
  o: Pick<ExchangeOptions, "options" | "url" | "secure">,
  onResponse: (res: http.IncomingMessage) => void,
): http.ClientRequest {
  const secure = o.secure ?? o.url?.protocol === "https:";
  const transport = secure ? https : http;
  return o.url === undefined
    ? transport.request(o.options, onResponse)
    : transport.request(o.url, o.options, onResponse);
}

/** One request and its whole answer. Rejects only when no complete answer came. */
export function exchange(o: ExchangeOptions): Promise<Exchange> {
  return new Promise<Exchange>((resolve, reject) => {
    let settled = false;
    let deadline: NodeJS.Timeout | undefined;
    let unbind = (): void => undefined;
    /** Settles once; `err` is final (no mapError) for our own timeout and size errors. */
    const settle = (err: Error | undefined, res?: Exchange): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      unbind();
      if (err !== undefined) reject(err);
      else if (res !== undefined) resolve(res);
    };
    const fail = (err: Error): void => settle(o.mapError === undefined ? err : o.mapError(err));
    const timeoutError = (): Error => o.onTimeout?.() ?? new Error("timed out");
    const req = startRequest(o, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (o.maxBodyBytes !== undefined && size > o.maxBodyBytes) {
          req.destroy();
          settle(o.onTooLarge?.() ?? new Error("answer too large"));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () =>
        settle(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", fail);
    });
    req.on("error", fail);
    if (o.idleTimeoutMs !== undefined) req.setTimeout(o.idleTimeoutMs, () => req.destroy(timeoutError()));
    if (o.deadlineMs !== undefined) {
      // A total deadline, not an idle timeout: a peer that trickles bytes must not hold us forever.
      deadline = setTimeout(() => {
        req.destroy();
        settle(timeoutError());
      }, o.deadlineMs);
    }
    unbind = destroyOnAbort(req, o.signal, () => new Error("aborted"));
    req.end(o.payload);
  });
}

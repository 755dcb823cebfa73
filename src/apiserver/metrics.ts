// Prometheus metrics of one apiserver instance, in a private Registry (several servers can run in one
// process — tests, the demo — without their metrics colliding). Labels are route templates and status
// codes only: never node names, so cardinality stays fixed however large the fleet.
import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";
import type { AdmissionResult, ReviewOutcome } from "./authenticator.js";
import type { Lane } from "./review-admission.js";

export class ApiserverMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"route" | "method" | "code">;
  readonly duration: Histogram<"route" | "method" | "code">;
  readonly tokenReviews: Counter<"outcome">;
  readonly reviewAdmissions: Counter<"lane" | "result">;
  readonly tlsReloads: Counter<"result">;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "brupop_apiserver_requests_total",
      help: "HTTP requests answered, by route template, method and status code.",
      labelNames: ["route", "method", "code"],
      registers,
    });
    this.duration = new Histogram({
      name: "brupop_apiserver_request_duration_seconds",
      help: "Time to answer an HTTP request, by route template, method and status code.",
      labelNames: ["route", "method", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.tokenReviews = new Counter({
      name: "brupop_apiserver_token_reviews_total",
      help: "Agent token lookups: cache_hit, reviewed (accepted by TokenReview), rejected, refused (by the claims, no review), throttled (429), error.",
      labelNames: ["outcome"],
      registers,
    });
    this.reviewAdmissions = new Counter({
      name: "brupop_apiserver_review_admissions_total",
      help: "TokenReviews of unknown tokens, by lane (agent: the claims name a live agent pod; anonymous) and result (admitted, vouched: accepted before, no budget; source_spent, pool_spent: 429).",
      labelNames: ["lane", "result"],
      registers,
    });
    this.tlsReloads = new Counter({
      name: "brupop_apiserver_tls_reloads_total",
      help: "Serving certificate reloads: ok, or rejected (the previous certificate stays).",
      labelNames: ["result"],
      registers,
    });
    if (opts.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(route: string, method: string, code: number, seconds: number): void {
    const labels = { route, method, code: String(code) };
    this.requests.inc(labels);
    this.duration.observe(labels, seconds);
  }

  observeReview(outcome: ReviewOutcome): void {
    this.tokenReviews.inc({ outcome });
  }

  observeAdmission(lane: Lane, result: AdmissionResult): void {
    this.reviewAdmissions.inc({ lane, result });
  }
}

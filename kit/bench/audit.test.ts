import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AuditLog,
  auditPolicyYaml,
  BENCH_USERS,
  classify,
  countLoad,
  perUnit,
  requestKind,
} from "./audit.js";

function event(o: {
  id: string;
  stage: string;
  user: string;
  verb: string;
  resource: string;
  subresource?: string;
  at: string;
  code?: number;
}): string {
  return JSON.stringify({
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "Metadata",
    auditID: o.id,
    stage: o.stage,
    requestURI: `/x/${o.resource}`,
    verb: o.verb,
    user: { username: o.user, groups: ["system:masters"] },
    objectRef: { resource: o.resource, subresource: o.subresource },
    requestReceivedTimestamp: o.at,
    stageTimestamp: o.at,
    ...(o.code === undefined ? {} : { responseStatus: { code: o.code } }),
  });
}

describe("audit counting", () => {
  it("renders a policy that logs only the given users", () => {
    const y = auditPolicyYaml(["a", "b"]);
    assert.match(y, /level: Metadata\n\s+users: \["a", "b"\]/);
    assert.match(y, /- level: None\n$/);
    assert.match(y, /omitStages: \[ResponseStarted\]/);
  });

  it("classifies by user, and the testbed user's node/shadow LIST and WATCH as the agents'", () => {
    const node = BENCH_USERS.node;
    assert.equal(classify({ user: BENCH_USERS.controller, verb: "list", resource: "nodes" }), "controller");
    assert.equal(classify({ user: node, verb: "watch", resource: "bottlerocketshadows" }), "agent");
    assert.equal(classify({ user: node, verb: "list", resource: "nodes" }), "agent");
    assert.equal(classify({ user: node, verb: "get", resource: "nodes" }), "apiserver");
    assert.equal(classify({ user: node, verb: "watch", resource: "pods" }), "apiserver");
    assert.equal(classify({ user: node, verb: "patch", resource: "bottlerocketshadows" }), "apiserver");
    assert.equal(classify({ user: "system:kube-scheduler", verb: "list", resource: "nodes" }), undefined);
    assert.equal(requestKind("watch"), "watch");
    assert.equal(requestKind("list"), "read");
    assert.equal(requestKind("deletecollection"), "write");
  });

  it("counts each request once (by auditID), inside the window only, with its final code", () => {
    const log = new AuditLog();
    const c = BENCH_USERS.controller;
    const lines = [
      event({
        id: "1",
        stage: "RequestReceived",
        user: c,
        verb: "patch",
        resource: "bottlerocketshadows",
        at: "2030-01-01T00:00:01.000100Z",
      }),
      event({
        id: "1",
        stage: "ResponseComplete",
        user: c,
        verb: "patch",
        resource: "bottlerocketshadows",
        at: "2030-01-01T00:00:01.0002Z",
        code: 409,
      }),
      event({
        id: "2",
        stage: "RequestReceived",
        user: BENCH_USERS.node,
        verb: "patch",
        resource: "bottlerocketshadows",
        subresource: "status",
        at: "2030-01-01T00:00:02Z",
      }),
      event({
        id: "3",
        stage: "RequestReceived",
        user: BENCH_USERS.node,
        verb: "watch",
        resource: "nodes",
        at: "2030-01-01T00:00:03Z",
      }),
      event({
        id: "4",
        stage: "RequestReceived",
        user: c,
        verb: "list",
        resource: "nodes",
        at: "2030-01-01T00:00:09Z",
      }),
      '{"auditID": "torn',
    ];
    for (const l of lines) log.add(l);
    assert.equal(log.requests.length, 4);
    assert.equal(log.unparsed, 1);
    const from = Date.parse("2030-01-01T00:00:00Z");
    const load = countLoad(log.requests, from, from + 5_000);
    assert.deepEqual(load.total, { read: 0, write: 2, watch: 1, list: 0, total: 3 });
    assert.equal(load.byComponent.controller.write, 1);
    assert.equal(load.byComponent.apiserver.write, 1);
    assert.equal(load.byComponent.agent.watch, 1);
    assert.equal(load.conflicts, 1);
    assert.deepEqual(load.byRequest, {
      "controller patch bottlerocketshadows": 1,
      "apiserver patch bottlerocketshadows/status": 1,
      "agent watch nodes": 1,
    });
    assert.deepEqual(perUnit(load.total, 2), { read: 0, write: 1, watch: 0.5, list: 0, total: 1.5 });
    assert.equal(countLoad(log.requests, from + 5_000, from + 10_000).total.list, 1);
  });
});

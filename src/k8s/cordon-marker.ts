// The annotation brupop writes on a Node it cordoned itself (the apiserver's NodeOps,
// src/apiserver/node-ops.ts): uncordon acts only when it is present, so a node an operator cordoned
// stays cordoned. The agent reads it too (a node brupop left cordoned), hence here, below both.
import { API_GROUP } from "../model/constants.js";
import type { KubeNode } from "./objects.js";

export const CORDONED_BY_BRUPOP_ANNOTATION = `${API_GROUP}/cordoned-by-brupop`;

export function isCordonedByBrupop(node: KubeNode): boolean {
  return node.metadata?.annotations?.[CORDONED_BY_BRUPOP_ANNOTATION] === "true";
}

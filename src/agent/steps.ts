// The steps an agent runs: on the host (its update API) and on its Node (through the apiserver).
// Their own module so that decide.ts and status.ts can both name them without a cycle.
export type HostStep = "refresh" | "prepare" | "activate" | "deactivate" | "reboot";
export type NodeStep =
  | "excludeFromLb"
  | "waitBeforeDrain"
  | "cordonAndDrain"
  /** Cordon only (no drain): quarantine a node that failed on the new version. */
  | "cordon"
  | "uncordon"
  | "removeExclusionFromLb";
export type Step = HostStep | NodeStep;

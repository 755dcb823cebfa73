// `-o table|json|yaml` for one FleetStatus. In watch mode JSON is one compact document per line and
// YAML documents are separated by `---`, so a consumer can split the stream.
import { stringify } from "yaml";
import type { FleetStatus } from "./model.js";
import { renderTable } from "./table.js";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function renderStatus(status: FleetStatus, format: OutputFormat, now: Date, watch = false): string {
  switch (format) {
    case "table":
      return renderTable(status, now);
    case "json":
      return watch ? `${JSON.stringify(status)}\n` : `${JSON.stringify(status, null, 2)}\n`;
    case "yaml":
      return `${watch ? "---\n" : ""}${stringify(status, { lineWidth: 0 })}`;
  }
}

/**
 * What makes two snapshots different for a reader: everything but generatedAt and the messages,
 * whose relative times ("in 5m") change as the clock runs while the facts stay the same.
 */
export function changeKey(status: FleetStatus): string {
  const { generatedAt: _ignored, nodes, ...rest } = status;
  return JSON.stringify({ ...rest, nodes: nodes.map(({ message: _m, ...row }) => row) });
}

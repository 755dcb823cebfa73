// The Event reasons the docs promise, read from their tables: a markdown table whose header has the
// columns reason, type, action, regarding and note (docs/controller.md, docs/policy.md; the agent
// and the apiserver record none). Used by the unit test that keeps the docs equal to the code's
// catalogue and by test/e2e/events.test.ts, which provokes every row on a real cluster.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const EVENT_DOCS = ["docs/controller.md", "docs/agent.md", "docs/apiserver.md", "docs/policy.md"];

export interface DocumentedEvent {
  doc: string;
  reason: string;
  type: string;
  action: string;
  /** The kinds the Event is recorded on, e.g. ["BottlerocketShadow", "Node"]. */
  regarding: string[];
  /** The text as documented, `<...>` for a part that varies. */
  note: string;
  /** The note as a whole-text pattern (each `<...>` matches anything). */
  pattern: RegExp;
}

const REQUIRED = ["reason", "type", "action", "regarding", "note"] as const;

const cells = (line: string): string[] =>
  line
    .trim()
    .replace(/^\||\|$/g, "")
    .split("|")
    .map((c) => c.trim());

const unquote = (s: string): string => s.replace(/^`(.*)`$/, "$1");

/** `note` as a regular expression: literal text, each `<placeholder>` any non-empty text. */
export function notePattern(note: string): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    `^${note
      .split(/<[^>]+>/)
      .map(escape)
      .join(".+")}$`,
  );
}

/** Every row of every Event table in `docs` (paths relative to `root`). */
export function documentedEvents(root: string, docs: readonly string[] = EVENT_DOCS): DocumentedEvent[] {
  const out: DocumentedEvent[] = [];
  for (const doc of docs) {
    const lines = readFileSync(join(root, doc), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const header = cells(lines[i] ?? "");
      if (!(lines[i] ?? "").trim().startsWith("|") || !REQUIRED.every((c) => header.includes(c))) continue;
      const col = (row: string[], name: (typeof REQUIRED)[number]) =>
        unquote(row[header.indexOf(name)] ?? "");
      for (i += 2; i < lines.length && (lines[i] ?? "").trim().startsWith("|"); i++) {
        const row = cells(lines[i] ?? "");
        const note = col(row, "note");
        out.push({
          doc,
          reason: col(row, "reason"),
          type: col(row, "type"),
          action: col(row, "action"),
          regarding: col(row, "regarding")
            .split(",")
            .map((k) => k.trim())
            .filter((k) => k !== ""),
          note,
          pattern: notePattern(note),
        });
      }
    }
  }
  return out;
}

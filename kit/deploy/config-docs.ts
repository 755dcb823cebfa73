// docs/configuration.md, generated from the three components' option tables (their flags,
// environment variables, chart values, defaults and help). `npm run config:docs` writes it;
// kit/deploy/config-docs.test.ts fails when it is out of date or when the chart disagrees with a table.
import { AGENT_OPTIONS } from "../../src/agent/config.js";
import { APISERVER_OPTIONS } from "../../src/apiserver/config.js";
import { CONTROLLER_OPTIONS } from "../../src/controller/run/config.js";
import { markdownTable, type OptionTable } from "../../src/config/options.js";

export const CONFIGURATION_DOC = "docs/configuration.md";

/** The components' option tables, in the order the docs show them. */
export const COMPONENT_OPTIONS: readonly { command: string; table: OptionTable }[] = [
  { command: "controller", table: CONTROLLER_OPTIONS },
  { command: "agent", table: AGENT_OPTIONS },
  { command: "apiserver", table: APISERVER_OPTIONS },
];

/** The document as prettier formats it (the repository's Markdown style). */
export async function renderConfigurationDoc(): Promise<string> {
  const { format, resolveConfig } = await import("prettier");
  const options = (await resolveConfig(CONFIGURATION_DOC)) ?? {};
  return format(configurationMarkdown(), { ...options, parser: "markdown" });
}

function configurationMarkdown(): string {
  const sections = COMPONENT_OPTIONS.map(
    ({ command, table }) => `## \`brupop ${command}\`\n\n${markdownTable(table)}`,
  );
  return `<!-- Generated from the option tables (src/*/config.ts) by \`npm run config:docs\`; do not edit. -->

# Configuration

Each component reads its configuration once, at start-up, from one option table: upstream's
environment variables (the chart sets them from its values) and a few flags. A flag wins over the
variable it overrides; an empty variable counts as unset. A bad value stops the component with one
line, \`error: NAME: …\`, naming the flag or variable, and exit code 2 ([cli.md](cli.md#exit-codes)).
\`brupop <command> --help\` shows the same flags and variables.

The table types, the shared parsers and how the help, these tables and the settings come from one
declaration: \`src/config/options.ts\`, \`src/config/parsers.ts\`
([ADR](adr/0004-one-config-system.md)). The log format variables (\`LOGGING_FORMATTER\`,
\`LOGGING_ANSI_ENABLED\`) are the logger's, common to all three: see [cli.md](cli.md#logs).

${sections.join("\n")}`;
}

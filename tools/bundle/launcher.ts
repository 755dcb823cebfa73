// Which bundle runs a `brupop` command line: the component's own bundle for `agent`, `controller`
// and `apiserver`, else the whole program (cli.js: other subcommands, `--help`, usage errors).
// The rule is program.ts's requestedCommand(): the first word that is not an option. It is
// written again here (tested against it in kit/deploy/bundle.test.ts) so that the launcher
// loads nothing but this file.

export const BUNDLED_COMPONENTS = ["agent", "controller", "apiserver"] as const;
export type BundledComponent = (typeof BUNDLED_COMPONENTS)[number];

export function bundleFor(argv: readonly string[]): BundledComponent | "cli" {
  const word = argv.slice(2).find((a) => !a.startsWith("-"));
  return BUNDLED_COMPONENTS.find((c) => c === word) ?? "cli";
}

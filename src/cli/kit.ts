// `brupop demo` and `brupop simulate-host` are user commands whose work is the test and dev kit
// (kit/, next to src/: docs/adr/0006-product-and-kit-trees.md). The product builds do not contain
// the kit: neither tsc's build (tsconfig.build.json, src/ only) nor the image's bundles
// (tools/bundle.ts). So the CLI reaches a kit command by a path computed at run time, never by an
// import the compilers follow, and only when it runs from the TypeScript sources of a checkout
// (`npx brupop demo`, through tsx). A build without the kit still lists the two commands in its
// help, and running one says where it runs instead.
import type { Command } from "commander";
import { BrupopError } from "../errors.js";

export type Register = (program: Command) => void;

export interface KitCommand {
  /** Module under kit/, relative. */
  module: string;
  /** Its export that registers the command on the program. */
  register: string;
  /** The command's one-line description (the kit module uses it too). */
  description: string;
}

export const KIT_COMMANDS = {
  demo: {
    module: "demo/command.ts",
    register: "registerDemo",
    description:
      "a live local fleet: a real control plane, simulated Bottlerocket nodes, brupop updating them",
  },
  "simulate-host": {
    module: "simulator/command.ts",
    register: "registerSimulateHost",
    description: "serve a simulated Bottlerocket host update API (SPEC §6) until SIGINT/SIGTERM",
  },
} as const satisfies Readonly<Record<string, KitCommand>>;

export type KitCommandName = keyof typeof KIT_COMMANDS;

/** kit/ next to src/, when this module runs from its TypeScript source; else none (a build). */
export function kitRoot(moduleUrl: string = import.meta.url): URL | undefined {
  return moduleUrl.endsWith(".ts") ? new URL("../../kit/", moduleUrl) : undefined;
}

/** Registers a command that only says that this build has no kit. */
function unavailable(name: KitCommandName): Register {
  return (program) => {
    program
      .command(name)
      .description(KIT_COMMANDS[name].description)
      .allowUnknownOption()
      .allowExcessArguments()
      .helpOption(false)
      .action(() => {
        throw new BrupopError(
          "BRUPOP_E_CONFIG",
          `brupop ${name} runs from a checkout of brupop-ts (npx brupop ${name}): this build has no kit/`,
        );
      });
  };
}

/** The register function of a kit command: the kit's own, or the placeholder of a build without it. */
export async function loadKitCommand(
  name: KitCommandName,
  root: URL | undefined = kitRoot(),
): Promise<Register> {
  if (root === undefined) return unavailable(name);
  const { module, register } = KIT_COMMANDS[name];
  const loaded: unknown = await import(new URL(module, root).href);
  const fn: unknown =
    typeof loaded === "object" && loaded !== null ? Reflect.get(loaded, register) : undefined;
  if (typeof fn !== "function") throw new Error(`kit/${module} has no ${register}()`);
  return (program) => void Reflect.apply(fn, undefined, [program]);
}

import type { Command } from "commander";
import { DEFAULT_APISERVER_SERVICE_PORT, DEFAULT_NAMESPACE } from "../../model/constants.js";
import { renderCrdYaml } from "../../model/crd.js";
import { renderPolicyCrdYaml } from "../../model/policy-crd.js";
import { parseNamespace, parsePort } from "../../config/parsers.js";
import { flagParser } from "../options.js";

export function registerCrd(program: Command): void {
  program
    .command("crd")
    .description("print the BottlerocketShadow CustomResourceDefinition (YAML)")
    .option(
      "--namespace <ns>",
      "namespace of the brupop apiserver (conversion webhook)",
      flagParser(parseNamespace, "--namespace"),
    )
    .option(
      "--service-port <port>",
      "port of the brupop-apiserver Service",
      flagParser(parsePort, "--service-port"),
      DEFAULT_APISERVER_SERVICE_PORT,
    )
    .option("--policy", "print the UpdatePolicy CustomResourceDefinition instead (docs/policy.md)")
    .action((opts: { namespace?: string; servicePort: number; policy?: boolean }) => {
      if (opts.policy === true) {
        process.stdout.write(renderPolicyCrdYaml());
        return;
      }
      process.stdout.write(
        renderCrdYaml({ namespace: opts.namespace ?? DEFAULT_NAMESPACE, servicePort: opts.servicePort }),
      );
    });
}

// Options all three components share, as option-table entries.
import { parseLogLevel } from "../log.js";
import { parseString } from "./parsers.js";

/** `--log-level` / TRACING_FILTER_DIRECTIVE (upstream's), set by the chart per component. */
export function logLevelOption(component: "controller" | "agent" | "apiserver") {
  return {
    flag: "--log-level <level>",
    env: ["TRACING_FILTER_DIRECTIVE"],
    chartValue: `logging.${component}.tracing_filter`,
    parse: parseLogLevel,
    default: "info",
    help: "trace, debug, info, warn, error, off, or a tracing directive such as controller=debug,info",
  } as const;
}

/** `--kubeconfig`, for running a component outside a pod. */
export const KUBECONFIG_OPTION = {
  flag: "--kubeconfig <path>",
  parse: parseString,
  defaultText: "in-cluster config, or $KUBECONFIG / ~/.kube/config",
  help: "kubeconfig file",
} as const;

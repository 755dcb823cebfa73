// The version pin (issue 18), as pure functions. The controller writes the pin as an annotation on
// the node's BottlerocketShadow (VERSION_LOCK_ANNOTATION, e.g. "1.20.0"); before every update check
// (refresh-updates) the agent makes the host's `settings.updates.version-lock` say the same, so the
// host's own choice never goes past the pin. "latest" (or empty) unpins: the controller writes it when a
// pin is lifted. No annotation at all: the host's lock is left as it is, like upstream's agent (an
// operator may have locked a host by hand). The host is only written when its lock differs.
import { VERSION_LOCK_LATEST } from "../bottlerocket/types.js";
import { BrupopError } from "../errors.js";
import { VERSION_LOCK_ANNOTATION } from "../model/constants.js";
import { isSemver } from "../model/semver.js";

/**
 * The lock the host should have, from the shadow's annotations: "v<version>" for a pin (the form
 * Bottlerocket documents), "latest" for an explicit unpin, undefined (leave the host's lock alone)
 * without the annotation. A pin that is not a version throws
 * BRUPOP_E_AGENT_ASSERTION naming the annotation (the agent then does not check for updates at all:
 * never past a pin it cannot read).
 */
export function wantedVersionLock(
  annotations: Readonly<Record<string, string>> | undefined,
): string | undefined {
  const raw = annotations?.[VERSION_LOCK_ANNOTATION];
  if (raw === undefined) return undefined;
  const pin = raw.trim();
  if (pin === "" || pin === VERSION_LOCK_LATEST) return VERSION_LOCK_LATEST;
  const version = pin.replace(/^v/, "");
  if (!isSemver(version)) {
    throw new BrupopError(
      "BRUPOP_E_AGENT_ASSERTION",
      `annotation ${VERSION_LOCK_ANNOTATION}="${raw}" is not a version (e.g. "1.20.3")`,
      { annotation: VERSION_LOCK_ANNOTATION, value: raw },
    );
  }
  return `v${version}`;
}

/** Whether two version-lock settings mean the same ("v1.20.3" = "1.20.3"; "latest" only equals itself). */
export function sameVersionLock(a: string, b: string): boolean {
  const norm = (s: string): string => s.trim().replace(/^v(?=\d)/, "");
  return norm(a) === norm(b);
}

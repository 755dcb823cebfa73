// Kubernetes label keys and values, and the text form of a label selector (`a=b,c!=d,e in (x,y),!f`,
// what `kubectl -l` takes) parsed into the object form (matchLabels/matchExpressions) that
// `selectorMatches` evaluates. Pure: the apiserver's settings validate with it at start-up.
export interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/**
 * Kubernetes label-selector semantics. A null/absent selector matches nothing (policy/v1 PDBs);
 * an empty one matches everything.
 */
export function selectorMatches(
  selector: LabelSelector | null | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  if (selector === null || selector === undefined) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((req) => requirementMatches(req, l));
}

function requirementMatches(req: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const value = Object.hasOwn(labels, req.key) ? labels[req.key] : undefined;
  const listed = value !== undefined && (req.values ?? []).includes(value);
  switch (req.operator) {
    case "In":
      return listed;
    case "NotIn":
      return !listed;
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    default:
      return false; // unknown operator: the API server would have rejected it; match nothing
  }
}

const NAME_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** A qualified name (label, annotation or taint key): `[prefix/]name`, prefix a DNS subdomain ≤ 253. */
export function isQualifiedName(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash === -1) return NAME_RE.test(key);
  const prefix = key.slice(0, slash);
  const name = key.slice(slash + 1);
  return prefix.length <= 253 && DNS_SUBDOMAIN_RE.test(prefix) && NAME_RE.test(name);
}

/** A label value: empty, or ≤ 63 characters of [A-Za-z0-9-_.] starting and ending alphanumeric. */
export function isLabelValue(value: string): boolean {
  return value === "" || NAME_RE.test(value);
}

/** Splits on commas outside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function checkKey(key: string): string {
  if (!isQualifiedName(key)) throw new Error(`"${key}" is not a valid label key`);
  return key;
}

function checkValue(value: string): string {
  if (!isLabelValue(value)) throw new Error(`"${value}" is not a valid label value`);
  return value;
}

const SET_RE = /^([^\s()!=,]+)\s+(in|notin)\s*\(([^()]*)\)$/;
const EQUALITY_RE = /^([^\s()!=,]+)\s*(==|=|!=)\s*([^\s()!=,]*)$/;

function requirement(raw: string): LabelSelectorRequirement {
  const text = raw.trim();
  if (text === "") throw new Error("empty requirement");
  const set = SET_RE.exec(text);
  if (set !== null) {
    const values = (set[3] ?? "").split(",").map((v) => checkValue(v.trim()));
    if (values.length === 1 && values[0] === "") throw new Error(`"${text}": empty value set`);
    return { key: checkKey(set[1] ?? ""), operator: set[2] === "in" ? "In" : "NotIn", values };
  }
  const eq = EQUALITY_RE.exec(text);
  if (eq !== null) {
    const values = [checkValue(eq[3] ?? "")];
    return { key: checkKey(eq[1] ?? ""), operator: eq[2] === "!=" ? "NotIn" : "In", values };
  }
  if (text.startsWith("!")) return { key: checkKey(text.slice(1).trim()), operator: "DoesNotExist" };
  if (/^[^\s()!=,]+$/.test(text)) return { key: checkKey(text), operator: "Exists" };
  throw new Error(`"${text}" is not a label requirement (key, !key, key=value, key!=value, key in (a,b))`);
}

/**
 * The text form of a label selector → its object form (pure). Throws an Error whose message says
 * which requirement is wrong. Every requirement must hold (AND), as in Kubernetes.
 */
export function parseLabelSelector(text: string): LabelSelector {
  if (text.trim() === "") throw new Error("empty selector");
  return { matchExpressions: splitTopLevel(text).map(requirement) };
}

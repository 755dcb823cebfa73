// TypeBox's schema builders that brupop's wire schemas use, imported by name: a bundle then
// carries these few modules, not TypeBox's whole `Type` namespace (its TypeScript-syntax parser,
// mappings, …: ~90 KiB), which cost every bundled process ~12 ms of CPU at start — 1.2 s of the
// agent's start under a 10m CPU limit (issue 30, docs/benchmarks.md). Use `Type.X` as with TypeBox.
import {
  Array as TArray,
  Boolean as TBoolean,
  Enum,
  Integer,
  Literal,
  Null,
  Object as TObject,
  Optional,
  Record,
  String as TString,
  Union,
} from "typebox";

export const Type = {
  Array: TArray,
  Boolean: TBoolean,
  Enum,
  Integer,
  Literal,
  Null,
  Object: TObject,
  Optional,
  Record,
  String: TString,
  Union,
} as const;

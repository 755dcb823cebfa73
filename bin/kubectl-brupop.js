#!/usr/bin/env node
// `kubectl-brupop`, the kubectl plugin (package.json bin; put it on PATH): see launch.js.
import { launch } from "./launch.js";

await launch("cli/kubectl-brupop");

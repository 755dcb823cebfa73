#!/usr/bin/env node
// `brupop` (package.json bin): see launch.js.
import { launch } from "./launch.js";

await launch("cli/main");

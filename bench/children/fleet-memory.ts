// Child of bench/run.ts: memory per simulated Bottlerocket host (kit/simulator/
// measure-memory.ts) in a fresh process. Prints one JSON line.
//
//   node --import tsx bench/children/fleet-memory.ts <hosts>
import { measureFleetMemory } from "../../kit/simulator/measure-memory.js";

const hosts = Number(process.argv[2] ?? 1_000);
const report = await measureFleetMemory(hosts);
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);

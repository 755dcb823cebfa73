// usage: node --expose-gc modrss.mjs spec...
import { readFileSync } from "node:fs";
const rss = () => { const m = readFileSync("/proc/self/status","utf8").match(/VmRSS:\s+(\d+)/); return Number(m[1])/1024; };
globalThis.gc(); await new Promise(r=>setTimeout(r,50)); globalThis.gc();
const base = rss(); const h0 = process.memoryUsage().heapUsed/2**20;
for (const s of process.argv.slice(2)) await import(s);
globalThis.gc(); await new Promise(r=>setTimeout(r,50)); globalThis.gc();
const m = process.memoryUsage();
console.log(`${process.argv.slice(2).join("+")||"(node)"}\tRSS ${base.toFixed(1)} -> ${rss().toFixed(1)} MiB (+${(rss()-base).toFixed(1)})\theapUsed +${(m.heapUsed/2**20-h0).toFixed(1)} MiB`);

// Evaluates copilot's Strudel snippet headless with the real @strudel/core, @strudel/mini and
// @strudel/transpiler (test-time only). WebMIDI does not exist in Node, so `midin` is replaced by what
// Strudel's own midin does with the bytes: every message stores data byte 2 / 127 under data byte 1, and
// `cc(n)` is a ref reading that slot at query time. `setcpm` (a REPL function) is recorded.
//
// stdin:  {"code": "...", "samples": [{"cycle": c, "values": {"21": 0.2, ...}}, ...]}
// stdout: RESULT {"setcpm": [...], "midin": [...], "samples": [[hap value, ...], ...]}
import { register } from 'node:module';

register('./kabelsalat-hook.mjs', import.meta.url);

const core = await import('@strudel/core');
const mini = await import('@strudel/mini');
const { transpiler } = await import('@strudel/transpiler');

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { code, samples } = JSON.parse(input);

await core.evalScope(core, mini);
const slots = {};
const seen = { setcpm: [], midin: [] };
globalThis.midin = async (port) => {
  seen.midin.push(port);
  return (n) => core.ref(() => slots[n] ?? 0);
};
globalThis.setcpm = (cpm) => seen.setcpm.push(cpm);
globalThis.setcps = (cps) => seen.setcpm.push(cps * 60);

const { pattern } = await core.evaluate(code, transpiler);
const out = [];
for (const { cycle, values } of samples) {
  for (const [n, v] of Object.entries(values)) slots[n] = v;
  out.push(pattern.queryArc(cycle, cycle + 1 / 1024).map((hap) => hap.value));
}
// Strudel greets on stdout, so the answer is the one line that starts with RESULT.
const plain = (key, value) => (typeof value === 'bigint' ? Number(value) : value);
process.stdout.write('RESULT ' + JSON.stringify({ ...seen, samples: out }, plain) + '\n');

// Segment's own mapping kit and trigger engine timed on the same cases as
// bench/languages.py, which runs this file and reads the JSON it prints.
// Needs `npm install` in tools/reference (see tools/reference/package.json).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(new URL("../tools/reference/package.json", import.meta.url));
const { transform } = require("@segment/actions-core");
const { parseFql, validate } = require("@segment/destination-subscriptions");

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));

function perSecond(work, rounds, calls) {
  for (let i = 0; i < calls / 10; i++) work();
  let best = Infinity;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) work();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    best = Math.min(best, seconds);
  }
  return calls / best;
}

const mapping = perSecond(() => transform(cases.mapping, cases.event), 5, 100000);
const ast = parseFql(cases.trigger);
const trigger = perSecond(() => validate(ast, cases.event), 5, 1000000);
console.log(JSON.stringify({ node: process.version, mapping, trigger }));

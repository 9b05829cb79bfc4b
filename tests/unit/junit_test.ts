import assert from "node:assert/strict";
import { parseJUnit } from "../run.ts";

// Shaped like `deno test --junit-path` output (Deno 2.x): steps appear as "test > step".
const REPORT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="6" failures="3" errors="0" time="0.010">
    <testsuite name="./a_test.ts" tests="6" disabled="1" errors="0" failures="3">
        <testcase name="passes" classname="./a_test.ts" time="0.000" line="1" col="6">
        </testcase>
        <testcase name="fails" classname="./a_test.ts" time="0.001" line="2" col="6">
            <failure message="Uncaught Error: boom &lt;x&gt; &amp; &apos;y&apos;">Error: boom</failure>
        </testcase>
        <testcase name="steps" classname="./a_test.ts" time="0.001" line="3" col="6">
            <failure message="1 test step failed">1 test step failed.</failure>
        </testcase>
        <testcase name="ignored" classname="./a_test.ts" time="0.000" line="4" col="6">
            <skipped/>
        </testcase>
        <testcase name="steps &gt; s1" classname="./a_test.ts" time="0.000" line="3" col="43">
        </testcase>
        <testcase name="steps &gt; s2" classname="./a_test.ts" time="0.000" line="3" col="73">
            <failure message="Uncaught Error: s2 bad">Error: s2 bad</failure>
        </testcase>
        <testcase name="a &gt; b is a name, not a step" classname="./a_test.ts" time="0.000">
        </testcase>
    </testsuite>
</testsuites>
`;

Deno.test("parseJUnit counts top-level tests and leaves steps out", () => {
  const counts = parseJUnit(REPORT);
  assert.equal(counts.passed, 2);
  assert.equal(counts.failed, 2);
  assert.equal(counts.skipped, 1);
  assert.deepEqual(counts.failures, [
    "a_test.ts: fails: Uncaught Error: boom <x> & 'y'",
    "a_test.ts: steps: 1 test step failed",
  ]);
});

Deno.test("parseJUnit of a report without tests counts nothing", () => {
  const empty = `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="deno test" tests="0">` +
    `\n</testsuites>\n`;
  assert.deepEqual(parseJUnit(empty), { passed: 0, failed: 0, skipped: 0, failures: [] });
});

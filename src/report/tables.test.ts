import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, formatNumber, formatTokens, shinTable, shinTableHtml, type ShinColumn, type ShinRow } from "./tables.ts";

const columns: ShinColumn[] = [
  { key: "icl", label: "ICL score", better: "lower" },
  { key: "acc", label: "accuracy", better: "higher", digits: 2 },
  { key: "ppl", label: "perplexity", better: "lower", digits: 1 },
];
// Column means: icl (−0.4 − 0.1 − 0.1) / 3 = −0.2; acc (0.9 + 0.5 + 0.4) / 3 = 0.6; ppl only one value.
const rows: ShinRow[] = [
  { label: "Blog", values: { icl: -0.4, acc: 0.9, ppl: 20 } },
  { label: "News", values: { icl: -0.1, acc: 0.5, ppl: null } },
  { label: "KiN+Ency", values: { icl: -0.1, acc: 0.4, ppl: NaN } },
];

test("shinTable() bolds values better than the column mean and underlines worse ones, respecting 'lower is better'", () => {
  const t = shinTable(rows, columns);
  assert.ok(Math.abs(t.means.icl! - -0.2) < 1e-12);
  assert.ok(Math.abs(t.means.acc! - 0.6) < 1e-12);
  // ICL score: lower is better, so −0.4 (below the mean) is bold and −0.1 (above it) underlined.
  assert.deepEqual(
    t.marks.map((m) => m.icl),
    ["bold", "underline", "underline"],
  );
  // Accuracy: higher is better.
  assert.deepEqual(
    t.marks.map((m) => m.acc),
    ["bold", "underline", "underline"],
  );
});

test("shinTable() leaves cells equal to the mean, missing cells and single-value columns unmarked", () => {
  const t = shinTable(
    [
      { label: "a", values: { icl: 1, acc: 0.5 } },
      { label: "b", values: { icl: 2, acc: 0.5 } },
      { label: "c", values: { icl: 3, acc: null } },
    ],
    columns,
  );
  assert.equal(t.marks[1].icl, null); // 2 is the mean of 1, 2, 3
  assert.equal(t.marks[0].icl, "bold");
  assert.equal(t.marks[2].icl, "underline");
  assert.deepEqual(
    t.marks.map((m) => m.acc),
    [null, null, null],
  ); // equal to the mean / missing
  assert.deepEqual(
    t.marks.map((m) => m.ppl),
    [null, null, null],
  );
  assert.equal(t.means.ppl, null);
  const single = shinTable(rows, columns);
  assert.deepEqual(
    single.marks.map((m) => m.ppl),
    [null, null, null],
  ); // one value: nothing to compare
  assert.equal(single.means.ppl, 20);
});

test("shinTable() rejects a column without a direction", () => {
  assert.throws(() => shinTable(rows, [{ key: "icl", label: "x", better: "up" as never }]), /column 'icl' must have better 'higher' or 'lower', found "up"/);
});

test("shinTableHtml() writes bold as <strong>, underline as <u>, with the direction in the header", () => {
  const html = shinTableHtml(shinTable(rows, columns));
  assert.match(html, /<th scope="row">Blog<\/th><td class="num" data-key="icl" data-value="-0.4" data-mark="bold"><strong>−0.400<\/strong><\/td>/);
  assert.match(html, /data-key="icl" data-value="-0.1" data-mark="underline"><u>−0.100<\/u><\/td>/);
  assert.match(html, /data-key="acc" data-value="0.9" data-mark="bold"><strong>0.90<\/strong>/);
  assert.match(html, /data-key="ppl" data-mark="none">—<\/td>/);
  assert.match(html, /data-better="lower">ICL score ↓<\/th>/);
  assert.match(html, /data-better="higher">accuracy ↑<\/th>/);
  assert.match(html, /<th scope="row">KiN\+Ency<\/th>/);
  assert.match(html, /column mean<\/th><td class="num">−0.200<\/td><td class="num">0.60<\/td><td class="num">20.0<\/td>/);
});

test("shinTableHtml() shows ± sd for rows of several runs and escapes labels", () => {
  const html = shinTableHtml(
    shinTable(
      [
        { label: "<b>x</b>", values: { icl: -0.3 }, sd: { icl: 0.05 }, n: 3 },
        { label: "y", values: { icl: -0.1 } },
      ],
      [columns[0]],
    ),
  );
  assert.match(html, /&lt;b&gt;x&lt;\/b&gt; <span class="sd">\(3 runs\)<\/span>/);
  assert.match(html, /<strong>−0.300 <span class="sd">± 0.050<\/span><\/strong>/);
});

test("formatNumber(), formatTokens() and escapeHtml() format as the report shows them", () => {
  assert.equal(formatNumber(-0.4251), "−0.425");
  assert.equal(formatNumber(-0.0001), "0.000");
  assert.equal(formatNumber(NaN), "—");
  assert.equal(formatNumber(null), "—");
  assert.equal(formatTokens(950), "950");
  assert.equal(formatTokens(12_345), "12.3k");
  assert.equal(formatTokens(187_000_000), "187.00M");
  assert.equal(formatTokens(1.63e9), "1.63B");
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
});

#!/usr/bin/env node
// Checks the committed ONNX fixtures against ONNX Runtime: every file listed
// in fixtures/MANIFEST.json has its recorded sha256 (nothing was edited by
// hand or half-regenerated), and ONNX Runtime's outputs for each model agree
// with PyTorch's within the fixture's tolerance. Needs no PyTorch.
//
//   node check_fixtures.js [--modules DIR] [FIXTURES_DIR]
//
// FIXTURES_DIR defaults to the fixtures folder next to this script; --modules
// is as for ort_run.js. Prints one line per output and exits 1 on any failure.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { readNpy, loadOrt } = require('./ort_run.js');

function compare(actual, expected, tol) {
  if (actual.type !== expected.type) return { ok: false, why: `dtype ${actual.type}, expected ${expected.type}` };
  if (actual.dims.join(',') !== expected.dims.join(',')) {
    return { ok: false, why: `shape (${actual.dims}), expected (${expected.dims})` };
  }
  let maxAbs = 0;
  let maxRef = 0;
  let bad = -1;
  for (let i = 0; i < expected.data.length; ++i) {
    const a = Number(actual.data[i]);
    const b = Number(expected.data[i]);
    const d = Math.abs(a - b);
    if (!(d <= tol.atol + tol.rtol * Math.abs(b)) && bad < 0) bad = i;
    maxAbs = Math.max(maxAbs, d);
    maxRef = Math.max(maxRef, Math.abs(b));
  }
  const summary = `max |diff| ${maxAbs.toExponential(3)}, relative to max |expected| ` +
                  `${(maxAbs / (maxRef || 1)).toExponential(3)}`;
  if (bad >= 0) {
    return { ok: false, why: `${summary}; element ${bad}: ${actual.data[bad]} vs ${expected.data[bad]} ` +
                              `exceeds atol ${tol.atol} + rtol ${tol.rtol}` };
  }
  return { ok: true, why: summary };
}

async function main() {
  const args = process.argv.slice(2);
  let modules = null;
  const rest = [];
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--modules' && i + 1 < args.length) modules = args[++i];
    else rest.push(args[i]);
  }
  const dir = path.resolve(rest[0] || path.join(__dirname, 'fixtures'));
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'MANIFEST.json'), 'utf8'));
  const ort = loadOrt(modules);
  let failures = 0;

  for (const [file, digest] of Object.entries(manifest.sha256)) {
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, file))).digest('hex');
    if (actual !== digest) {
      console.log(`FAIL ${file}: sha256 ${actual} differs from the manifest's ${digest}`);
      ++failures;
    }
  }

  for (const fx of manifest.fixtures) {
    const session = await ort.InferenceSession.create(path.join(dir, fx.model), {
      executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
    });
    const feeds = {};
    fx.inputs.forEach((inp) => {
      const a = readNpy(path.join(dir, inp.file));
      feeds[inp.name] = new ort.Tensor(a.type, a.data, a.dims);
    });
    const results = await session.run(feeds);
    fx.outputs.forEach((out) => {
      const expected = readNpy(path.join(dir, out.file));
      const t = results[out.name];
      const r = compare({ type: t.type, data: t.data, dims: t.dims }, expected, fx.tolerance);
      console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${fx.name} ${out.name}: ${r.why}`);
      if (!r.ok) ++failures;
    });
    await session.release();
  }
  if (failures > 0) throw new Error(`${failures} check(s) failed`);
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`check_fixtures: ${e.message}\n`);
    process.exit(1);
  },
);

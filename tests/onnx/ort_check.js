#!/usr/bin/env node
// Step 2 of the ONNX Runtime cross-check: runs every model hybrid exported
// (step 1, `hybrid_onnx_tests "[ort-export]"`) with ONNX Runtime and
// compares its outputs with hybrid's.
//
//   node ort_check.js [--modules DIR] ORT_DIR
//
// ORT_DIR holds one folder per model: model.onnx, and for each case prefix
// ("" and "batch5_") <prefix>input_<i>.npy and <prefix>expected_<i>.npy
// (hybrid's outputs). The batch5_ case runs the model at a batch size other
// than the traced one, so it checks that the symbolic batch works.
// Agreement: |ort - hybrid| <= 1e-5 · |hybrid| + 1e-6 elementwise (relative
// 1e-5, with an absolute floor for results near zero, where a relative
// bound says nothing about float32 rounding).
//
// Exit status: 0 all agree; 1 a mismatch or an error; 77 (CTest's skip
// code) when onnxruntime-node cannot be loaded, with a message saying how
// to install it.
'use strict';

const fs = require('fs');
const path = require('path');
const { readNpy } = require('./ort_run.js');

const RTOL = 1e-5;
const ATOL = 1e-6;
const SKIP = 77;

function loadOrtOrSkip(modules) {
  const candidates = [];
  if (modules) {
    const dir = path.resolve(modules);
    candidates.push(path.join(dir, 'node_modules', 'onnxruntime-node'), path.join(dir, 'onnxruntime-node'));
  }
  candidates.push('onnxruntime-node');
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') {
        console.log(`ort_check: SKIP: onnxruntime-node at ${c} does not load: ${e.message}`);
        process.exit(SKIP);
      }
    }
  }
  console.log('ort_check: SKIP: onnxruntime-node is not installed (looked in ' + candidates.join(', ') +
              '); run scripts/setup_onnx.sh, or npm install --ignore-scripts onnxruntime-node@1.30.0 ' +
              'into the folder given as HYBRID_NODE_DIR');
  process.exit(SKIP);
}

async function checkCase(ort, session, dir, prefix) {
  const inputs = [];
  for (let i = 0; fs.existsSync(path.join(dir, `${prefix}input_${i}.npy`)); ++i) {
    inputs.push(readNpy(path.join(dir, `${prefix}input_${i}.npy`)));
  }
  if (inputs.length !== session.inputNames.length) {
    throw new Error(`${dir}: ${inputs.length} ${prefix}input files for ${session.inputNames.length} model inputs`);
  }
  const feeds = {};
  session.inputNames.forEach((name, i) => {
    feeds[name] = new ort.Tensor(inputs[i].type, inputs[i].data, inputs[i].dims);
  });
  const results = await session.run(feeds);
  let worst = 0;
  const problems = [];
  session.outputNames.forEach((name, i) => {
    const expected = readNpy(path.join(dir, `${prefix}expected_${i}.npy`));
    const got = results[name];
    if (got.dims.join(',') !== expected.dims.join(',')) {
      problems.push(`output ${i}: shape (${got.dims}) from ONNX Runtime, (${expected.dims}) from hybrid`);
      return;
    }
    if (got.data.length !== expected.data.length) {
      problems.push(`output ${i}: ${got.data.length} elements from ONNX Runtime, ${expected.data.length} from hybrid`);
      return;
    }
    let bad = 0;
    let first = '';
    for (let k = 0; k < expected.data.length; ++k) {
      const a = Number(got.data[k]);
      const b = Number(expected.data[k]);
      const err = Math.abs(a - b);
      const same = (Number.isNaN(a) && Number.isNaN(b)) || a === b;
      // The share of the tolerance this element uses (1 is the limit).
      if (!same) worst = Math.max(worst, err / (RTOL * Math.abs(b) + ATOL));
      if (!same && !(err <= RTOL * Math.abs(b) + ATOL)) {
        if (!bad) first = `element ${k}: ONNX Runtime ${a}, hybrid ${b}`;
        ++bad;
      }
    }
    if (bad) problems.push(`output ${i}: ${bad} of ${expected.data.length} elements differ (first: ${first})`);
  });
  return { worst, problems, batch: inputs[0].dims[0] };
}

async function main() {
  const args = process.argv.slice(2);
  let modules = null;
  if (args[0] === '--modules') {
    modules = args[1];
    args.splice(0, 2);
  }
  if (args.length !== 1) {
    console.error('usage: node ort_check.js [--modules DIR] ORT_DIR');
    process.exit(2);
  }
  const root = args[0];
  const ort = loadOrtOrSkip(modules);
  if (!fs.existsSync(path.join(root, 'DONE'))) {
    throw new Error(`${root} has no exported models (run hybrid_onnx_tests "[ort-export]" first)`);
  }
  const models = fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'model.onnx'))).sort();
  if (models.length === 0) throw new Error(`no models in ${root}`);
  let failed = 0;
  for (const name of models) {
    const dir = path.join(root, name);
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    for (const prefix of ['', 'batch5_']) {
      const r = await checkCase(ort, session, dir, prefix);
      const status = r.problems.length ? 'FAIL' : 'ok';
      console.log(`${status} ${name} at batch ${r.batch}: largest difference ${r.worst.toFixed(3)} of the tolerance`);
      for (const p of r.problems) console.log(`    ${p}`);
      if (r.problems.length) ++failed;
    }
  }
  if (failed) {
    console.log(`ort_check: ${failed} case(s) disagree with hybrid`);
    process.exit(1);
  }
  console.log(`ort_check: ${models.length} models agree with hybrid (rtol ${RTOL}, atol ${ATOL})`);
}

main().catch((e) => {
  console.log(`ort_check: ${e.message}`);
  process.exit(1);
});

#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node, CPU provider, one
// intra-op thread) on .npy inputs and writes its outputs as .npy files.
//
//   node ort_run.js [--modules DIR] [--graph-opt LEVEL] model.onnx out_dir in_0.npy [in_1.npy ...]
//
// The inputs feed the graph's inputs in order (initializers excluded); output
// i is written to out_dir/output_<i>.npy with the dtype ONNX Runtime produced.
// onnxruntime-node is found in --modules DIR (a node_modules folder, or a
// folder holding one), else through NODE_PATH / the usual require search.
// LEVEL is one of disabled, basic, extended, all (default all).
// Any failure prints "ort_run: <reason>" and exits with status 1; bad usage
// exits with status 2.
'use strict';

const fs = require('fs');
const path = require('path');

class UsageError extends Error {}

function fail(message) {
  throw new Error(message);
}

// ---------------------------------------------------------------------------
// .npy (format versions 1.0, 2.0 and 3.0; little-endian, C order)

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

// numpy descr -> [ONNX Runtime tensor type, typed array, element size]
const NPY_TYPES = {
  '<f4': ['float32', Float32Array, 4],
  '<f8': ['float64', Float64Array, 8],
  '<i8': ['int64', BigInt64Array, 8],
  '<i4': ['int32', Int32Array, 4],
  '<u8': ['uint64', BigUint64Array, 8],
  '|u1': ['uint8', Uint8Array, 1],
  '|i1': ['int8', Int8Array, 1],
  '|b1': ['bool', Uint8Array, 1],
};
const ORT_TO_DESCR = {};
for (const [descr, [type]] of Object.entries(NPY_TYPES)) ORT_TO_DESCR[type] = descr;

function parseHeaderDict(text, file) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const order = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !order || !shape) fail(`${file}: unreadable .npy header ${JSON.stringify(text.trim())}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).map((s) => {
    if (!/^\d+$/.test(s)) fail(`${file}: bad dimension '${s}' in .npy shape`);
    return Number(s);
  });
  return { descr: descr[1], fortran: order[1] === 'True', dims };
}

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    fail(`cannot read ${file}: ${e.message}`);
  }
  if (buf.length < 10 || !buf.subarray(0, 6).equals(NPY_MAGIC)) fail(`${file}: not a .npy file (bad magic)`);
  const major = buf[6];
  let headerLen;
  let offset;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) fail(`${file}: truncated .npy header`);
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else {
    fail(`${file}: unsupported .npy format version ${major}.${buf[7]}`);
  }
  if (offset + headerLen > buf.length) fail(`${file}: truncated .npy header`);
  const header = parseHeaderDict(buf.toString(major === 3 ? 'utf8' : 'latin1', offset, offset + headerLen), file);
  if (header.fortran) fail(`${file}: Fortran-order arrays are not supported; save it in C order`);
  const type = NPY_TYPES[header.descr];
  if (!type) fail(`${file}: unsupported dtype '${header.descr}' (supported: ${Object.keys(NPY_TYPES).join(', ')})`);
  const [ortType, ArrayType, size] = type;
  const count = header.dims.reduce((a, b) => a * b, 1);
  const dataStart = offset + headerLen;
  const expected = count * size;
  if (buf.length - dataStart !== expected) {
    fail(`${file}: shape (${header.dims.join(', ')}) of ${header.descr} needs ${expected} data bytes, ` +
         `file has ${buf.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer: the data offset need not be a multiple of the element size.
  const data = new ArrayType(count);
  Buffer.from(data.buffer).set(buf.subarray(dataStart, dataStart + expected));
  return { type: ortType, data, dims: header.dims };
}

function writeNpy(file, type, data, dims) {
  const descr = ORT_TO_DESCR[type];
  if (!descr) fail(`cannot write output of type ${type} to ${file}`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // numpy pads the header with spaces so the data starts on a 64-byte boundary.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  NPY_MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  let bytes;
  if (type === 'bool') {
    bytes = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  try {
    fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), bytes]));
  } catch (e) {
    fail(`cannot write ${file}: ${e.message}`);
  }
}

// ---------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { modules: null, graphOpt: 'all', positional: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === '--modules' || a === '--graph-opt') {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
      if (a === '--modules') opts.modules = argv[++i];
      else opts.graphOpt = argv[++i];
    } else if (a === '-h' || a === '--help') {
      throw new UsageError('');
    } else if (a.startsWith('--')) {
      throw new UsageError(`unknown option ${a}`);
    } else {
      opts.positional.push(a);
    }
  }
  if (!['disabled', 'basic', 'extended', 'all'].includes(opts.graphOpt)) {
    throw new UsageError(`--graph-opt must be disabled, basic, extended or all, not '${opts.graphOpt}'`);
  }
  if (opts.positional.length < 3) throw new UsageError('need a model, an output folder and at least one input');
  return opts;
}

function loadOrt(modules) {
  const candidates = [];
  if (modules) {
    const dir = path.resolve(modules);
    candidates.push(path.join(dir, 'onnxruntime-node'), path.join(dir, 'node_modules', 'onnxruntime-node'));
  }
  candidates.push('onnxruntime-node');
  const errors = [];
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND' || !String(e.message).includes(c)) {
        fail(`loading ${c} failed: ${e.message}`);
      }
      errors.push(c);
    }
  }
  fail(`onnxruntime-node not found (looked for ${errors.join(', ')}); install it with ` +
       "'npm install --ignore-scripts onnxruntime-node@1.30.0' and pass --modules <node_modules dir> or set NODE_PATH");
  return null;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [modelPath, outDir, ...inputFiles] = opts.positional;
  const ort = loadOrt(opts.modules);
  if (!fs.existsSync(modelPath)) fail(`model ${modelPath} does not exist`);
  const inputs = inputFiles.map(readNpy);

  let session;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: opts.graphOpt,
    });
  } catch (e) {
    fail(`ONNX Runtime cannot load ${modelPath}: ${e.message}`);
  }
  const names = session.inputNames;
  if (names.length !== inputs.length) {
    fail(`${modelPath} has ${names.length} input(s) (${names.join(', ')}) but ${inputs.length} .npy file(s) were given`);
  }
  const feeds = {};
  names.forEach((name, i) => {
    feeds[name] = new ort.Tensor(inputs[i].type, inputs[i].data, inputs[i].dims);
  });
  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    const given = names.map((n, i) => `${n}: ${inputs[i].type}[${inputs[i].dims.join(', ')}]`).join('; ');
    fail(`ONNX Runtime failed to run ${modelPath} on (${given}): ${e.message}`);
  }
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    fail(`cannot create ${outDir}: ${e.message}`);
  }
  session.outputNames.forEach((name, i) => {
    const t = results[name];
    writeNpy(path.join(outDir, `output_${i}.npy`), t.type, t.data, t.dims);
  });
  await session.release();
}

module.exports = { readNpy, writeNpy, loadOrt };

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      if (e instanceof UsageError) {
        if (e.message) process.stderr.write(`ort_run: ${e.message}\n`);
        process.stderr.write('usage: node ort_run.js [--modules DIR] [--graph-opt LEVEL] model.onnx out_dir ' +
                             'in_0.npy [in_1.npy ...]\n');
        process.exit(2);
      }
      process.stderr.write(`ort_run: ${e.message}\n`);
      process.exit(1);
    },
  );
}

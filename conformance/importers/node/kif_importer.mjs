#!/usr/bin/env node
// A small KIF importer in JavaScript (Node 20, standard library only), written against the spec pages, to prove
// that the conformance suite runs an importer in any language through the process protocol of
// spec/conformance.md:
//
//   node kif_importer.mjs run BUNDLE INPUTS.safetensors OUTPUT.safetensors
//   node kif_importer.mjs validate BUNDLE          prints {"findings": [...]}
//
// It implements float32 Dense, Activation, ReLU, Add, Flatten and Softmax (activations linear, relu, sigmoid,
// tanh, softmax) and a validator for a few container, document and graph checks. Everything else is refused:
// exit status 3 with {"not_supported": "reason"} on stdout. Any other failure exits 1.
import fs from "node:fs";
import path from "node:path";
import process from "node:process";

const EXIT_REFUSED = 3;
const MAX_DOCUMENT_BYTES = 64 * 1024 * 1024; // spec/bundle.md, "Limits"

class NotSupported extends Error {}
class Finding extends Error {
  constructor(code, pointer, message) {
    super(message);
    this.code = code;
    this.pointer = pointer;
  }
}

// ---------------------------------------------------------------- container: directory or STORED ZIP archive

function openBundle(bundlePath) {
  if (!fs.existsSync(bundlePath)) throw new Finding("bundle-not-found", null, "no such file or directory");
  const stat = fs.lstatSync(bundlePath);
  if (stat.isDirectory()) {
    return {
      has: (name) => fs.existsSync(path.join(bundlePath, name)),
      size: (name) => fs.statSync(path.join(bundlePath, name)).size,
      read: (name) => fs.readFileSync(path.join(bundlePath, name)),
    };
  }
  const buf = fs.readFileSync(bundlePath);
  return openZip(buf);
}

function openZip(buf) {
  // The end-of-central-directory record: its signature within the last 65,557 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Finding("bundle-unreadable", null, "not a directory and not a ZIP archive");
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  let at = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || at === 0xffffffff) throw new NotSupported("ZIP64 archives");
  const members = new Map();
  for (let n = 0; n < count; n++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== 0x02014b50) throw new NotSupported("this ZIP structure");
    const flags = buf.readUInt16LE(at + 8);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString("utf8");
    if (method !== 0 || (flags & 1) !== 0 || members.has(name)) throw new NotSupported("compressed, encrypted or duplicate members");
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) throw new NotSupported("this ZIP structure");
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    if (start + size > buf.length) throw new NotSupported("this ZIP structure");
    members.set(name, [start, start + size]);
    at += 46 + nameLen + extraLen + commentLen;
  }
  return {
    has: (name) => members.has(name),
    size: (name) => members.get(name)[1] - members.get(name)[0],
    read: (name) => {
      const range = members.get(name);
      if (!range) throw new NotSupported(`missing member ${name}`);
      return buf.subarray(range[0], range[1]);
    },
  };
}

// ---------------------------------------------------------------- safetensors, read and written by hand

function readSafetensors(buf) {
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString("utf8"));
  const base = 8 + headerLen;
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    tensors[name] = { info, base };
  }
  return {
    get(name) {
      const entry = tensors[name];
      if (!entry) throw new Error(`tensor ${name} not in the file`);
      if (entry.info.dtype !== "F32") throw new NotSupported(`dtype ${entry.info.dtype} (only float32)`);
      const [a, b] = entry.info.data_offsets;
      const bytes = buf.subarray(entry.base + a, entry.base + b);
      const data = new Float32Array(bytes.length / 4);
      for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(i * 4);
      return { shape: entry.info.shape.slice(), data };
    },
  };
}

function writeSafetensors(file, named) {
  const header = {};
  let offset = 0;
  for (const [name, t] of named) {
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const [, t] of named) {
    for (let i = 0; i < t.data.length; i++, at += 4) out.writeFloatLE(t.data[i], at);
  }
  fs.writeFileSync(file, out);
}

// ---------------------------------------------------------------- layers

const size = (shape) => shape.reduce((a, b) => a * b, 1);

const ACTIVATIONS = {
  linear: (x) => x,
  relu: (x) => map(x, (v) => (v > 0 ? v : 0)),
  sigmoid: (x) => map(x, (v) => 1 / (1 + Math.exp(-v))),
  tanh: (x) => map(x, Math.tanh),
  softmax: (x) => softmax(x, x.shape.length - 1),
};

function map(x, f) {
  const data = new Float32Array(x.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(x.data[i]);
  return { shape: x.shape.slice(), data };
}

function activation(name) {
  const f = ACTIVATIONS[name];
  if (!f) throw new NotSupported(`activation ${JSON.stringify(name)}`);
  return f;
}

function softmax(x, axis) {
  const rank = x.shape.length;
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) throw new Error(`softmax axis out of range`);
  const n = x.shape[axis];
  const inner = size(x.shape.slice(axis + 1));
  const outer = size(x.shape.slice(0, axis));
  const data = new Float32Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k) => (o * n + k) * inner + i;
      let m = -Infinity;
      for (let k = 0; k < n; k++) m = Math.max(m, x.data[at(k)]);
      let sum = 0;
      for (let k = 0; k < n; k++) sum += Math.exp(x.data[at(k)] - m);
      for (let k = 0; k < n; k++) data[at(k)] = Math.exp(x.data[at(k)] - m) / sum;
    }
  }
  return { shape: x.shape.slice(), data };
}

function dense(attrs, [x], w) {
  const [inDim, units] = w.kernel.shape;
  if (x.shape[x.shape.length - 1] !== inDim) throw new Error("Dense: input does not match the kernel");
  const rows = x.data.length / inDim;
  const data = new Float32Array(rows * units);
  for (let r = 0; r < rows; r++) {
    for (let u = 0; u < units; u++) {
      let acc = attrs.use_bias === false ? 0 : w.bias.data[u];
      for (let k = 0; k < inDim; k++) acc += x.data[r * inDim + k] * w.kernel.data[k * units + u];
      data[r * units + u] = acc;
    }
  }
  return activation(attrs.activation ?? "linear")({ shape: [...x.shape.slice(0, -1), units], data });
}

function relu(attrs, [x]) {
  const t = attrs.threshold ?? 0;
  const s = attrs.negative_slope ?? 0;
  const M = attrs.max_value ?? null;
  return map(x, (v) => (v > t ? (M === null ? v : Math.min(v, M)) : s * (v - t)));
}

function add(attrs, xs) {
  const rank = xs[0].shape.length;
  if (xs.some((x) => x.shape.length !== rank)) throw new NotSupported("Add of inputs of different ranks");
  const shape = xs[0].shape.map((_, d) => Math.max(...xs.map((x) => x.shape[d])));
  if (xs.some((x) => x.shape.some((n, d) => n !== 1 && n !== shape[d]))) throw new Error("Add: shapes do not broadcast");
  const data = new Float32Array(size(shape));
  const index = new Array(rank).fill(0);
  for (let i = 0; i < data.length; i++) {
    let acc = 0;
    for (const x of xs) {
      let flat = 0;
      for (let d = 0; d < rank; d++) flat = flat * x.shape[d] + (x.shape[d] === 1 ? 0 : index[d]);
      acc += x.data[flat];
      acc = Math.fround(acc); // summed left to right in float32
    }
    data[i] = acc;
    for (let d = rank - 1; d >= 0 && ++index[d] === shape[d]; d--) index[d] = 0;
  }
  return { shape, data };
}

function flatten(attrs, [x]) {
  let t = x;
  if (attrs.data_format === "channels_first" && x.shape.length > 2) {
    // [N, C, d1..dk] -> [N, d1..dk, C]
    const [N, C] = x.shape;
    const inner = size(x.shape.slice(2));
    const data = new Float32Array(x.data.length);
    for (let b = 0; b < N; b++)
      for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) data[(b * inner + i) * C + c] = x.data[(b * C + c) * inner + i];
    t = { shape: [N, ...x.shape.slice(2), C], data };
  }
  return { shape: [t.shape[0], size(t.shape.slice(1))], data: t.data };
}

function softmaxLayer(attrs, inputs) {
  if (inputs.length > 1 && inputs[1] !== null) throw new NotSupported("Softmax with a mask");
  let axis = attrs.axis ?? -1;
  if (Array.isArray(axis)) {
    if (axis.length !== 1) throw new NotSupported("Softmax over several axes");
    axis = axis[0];
  }
  return softmax(inputs[0], axis);
}

// type -> [kernel, the attributes it understands]
const LAYERS = {
  Dense: [dense, ["units", "activation", "use_bias"]],
  Activation: [(attrs, [x]) => activation(attrs.activation)(x), ["activation"]],
  ReLU: [relu, ["max_value", "negative_slope", "threshold"]],
  Add: [add, []],
  Flatten: [flatten, ["data_format"]],
  Softmax: [softmaxLayer, ["axis"]],
};

// ---------------------------------------------------------------- run

function run(bundlePath, inputsPath, outputPath) {
  const bundle = openBundle(bundlePath);
  const doc = JSON.parse(bundle.read("model.json").toString("utf8"));
  if (!/^0\.[12]\.\d+$/.test(doc.kif_version)) throw new NotSupported(`kif_version ${doc.kif_version}`);
  for (const layer of doc.layers) {
    const known = LAYERS[layer.type];
    if (!known) throw new NotSupported(`layer type ${layer.type}`);
    const extra = Object.keys(layer.attributes).filter((a) => !known[1].includes(a));
    if (extra.length) throw new NotSupported(`${layer.type} attributes ${extra.join(", ")}`);
    if (layer.attributes.activation !== undefined) activation(layer.attributes.activation);
  }
  for (const decl of [...doc.inputs, ...doc.outputs]) {
    if (decl.dtype !== "float32") throw new NotSupported(`dtype ${decl.dtype} (only float32)`);
  }
  const files = new Map();
  const weight = (name) => {
    const entry = doc.weights.tensors[name];
    if (!files.has(entry.file)) files.set(entry.file, readSafetensors(bundle.read(entry.file)));
    return files.get(entry.file).get(name);
  };
  const feed = readSafetensors(fs.readFileSync(inputsPath));
  const env = new Map();
  for (const decl of doc.inputs) env.set(decl.name, feed.get(decl.name));
  for (const layer of doc.layers) {
    const inputs = layer.inputs.map((name) => (name === null ? null : env.get(name)));
    const w = Object.fromEntries(Object.entries(layer.weights).map(([role, name]) => [role, weight(name)]));
    env.set(layer.outputs[0], LAYERS[layer.type][0](layer.attributes, inputs, w));
  }
  writeSafetensors(outputPath, doc.outputs.map((decl) => [decl.name, env.get(decl.name)]));
}

// ---------------------------------------------------------------- validate: a few checks, refuse the rest

function validate(bundlePath) {
  const findings = [];
  let bundle;
  try {
    bundle = openBundle(bundlePath);
  } catch (err) {
    if (err instanceof Finding) return [err];
    throw err;
  }
  if (!bundle.has("model.json")) return [new Finding("bundle-missing-member", null, "no model.json")];
  if (bundle.size("model.json") > MAX_DOCUMENT_BYTES) return [new Finding("document-too-large", null, "model.json over 64 MiB")];
  let doc;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bundle.read("model.json"));
    doc = JSON.parse(text);
  } catch {
    return [new Finding("document-invalid-json", null, "model.json is not UTF-8 JSON")];
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return [new Finding("schema-violation", "", "not an object")];
  const { inputs, outputs, layers } = doc;
  const isList = (v) => Array.isArray(v) && v.every((e) => e && typeof e === "object" && typeof e.name === "string");
  if (!isList(inputs) || !isList(outputs) || !isList(layers)) return findings; // a schema this validator does not check
  if (!layers.every((l) => Array.isArray(l.inputs) && Array.isArray(l.outputs))) return findings;
  const duplicates = (list, where) => {
    const seen = new Set();
    list.forEach((e, i) => {
      if (seen.has(e.name)) findings.push(new Finding("graph-duplicate-name", `/${where}/${i}/name`, `${e.name} repeated`));
      seen.add(e.name);
    });
  };
  duplicates(layers, "layers");
  duplicates(inputs, "inputs");
  const produced = new Set(inputs.map((e) => e.name));
  const everProduced = new Set([...produced, ...layers.flatMap((l) => l.outputs)]);
  layers.forEach((layer, i) => {
    layer.inputs.forEach((name, j) => {
      if (name !== null && !everProduced.has(name)) {
        findings.push(new Finding("graph-dangling-reference", `/layers/${i}/inputs/${j}`, `${name} is never produced`));
      }
    });
    layer.outputs.forEach((name, j) => {
      if (produced.has(name)) findings.push(new Finding("graph-duplicate-tensor", `/layers/${i}/outputs/${j}`, `${name} produced twice`));
      produced.add(name);
    });
  });
  outputs.forEach((e, i) => {
    if (!everProduced.has(e.name)) findings.push(new Finding("graph-output-unproduced", `/outputs/${i}/name`, `${e.name} is never produced`));
  });
  return findings;
}

// ---------------------------------------------------------------- main

function main(argv) {
  const [command, ...args] = argv;
  try {
    if (command === "run" && args.length === 3) {
      run(...args);
    } else if (command === "validate" && args.length === 3 && args[1] === "--level") {
      throw new NotSupported(`validation level ${args[2]} (this importer has no runtime for self-tests)`);
    } else if (command === "validate" && args.length === 1) {
      const findings = validate(args[0]);
      if (findings.length === 0) {
        // A partial validator that found none of its problems cannot vouch for the bundle.
        throw new NotSupported("no problem among the few this validator checks (container, JSON, names, references)");
      }
      const out = findings.map((f) => ({ code: f.code, pointer: f.pointer, severity: "error", message: f.message }));
      process.stdout.write(JSON.stringify({ findings: out }) + "\n");
    } else {
      process.stderr.write("usage: kif_importer.mjs run BUNDLE INPUTS OUTPUT | validate BUNDLE\n");
      return 2;
    }
    return 0;
  } catch (err) {
    if (err instanceof NotSupported) {
      process.stdout.write(JSON.stringify({ not_supported: err.message }) + "\n");
      return EXIT_REFUSED;
    }
    process.stderr.write(`kif_importer: ${err.stack ?? err}\n`);
    return 1;
  }
}

process.exitCode = main(process.argv.slice(2));

// The page without a server: a drawing prepared as MNIST was, and the network run on it, both in the browser.
// `digitnet export MODEL --format web` bundles the weights (model.json and model.bin) beside this page. app.js
// prepares every drawing with prepare(), and runs readDigit() here when the page carries a bundled model (else the
// server's API reads the prepared digit).
//
// prepare() follows digitnet.web.drawing.prepare step by step, Pillow's bilinear resize included, so the 28x28 image
// is the server's to within rounding (tests/test_export_web.py holds one against the other).
"use strict";

const SIDE = 28; // MNIST images are SIDE x SIDE
const BOX = 20; // the digit is scaled to fit a BOX x BOX square inside them
const CENTRE = 14.0; // row and column of MNIST's centre of mass (0-based)
const INK_LEVEL = 0.1; // a pixel counts towards the bounding box with at least this fraction of the strongest ink

// ---------------------------------------------------------------------------------------------- preparation
// ink: Float32Array of width*height values, row by row, more ink = higher. Returns 28 rows of 28 integers 0-255,
// or null for a blank drawing.
function prepare(ink, width, height) {
  let strongest = 0;
  for (const v of ink) strongest = Math.max(strongest, v);
  if (strongest === 0) return null;

  // crop to the ink's bounding box, ignoring faint specks
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] >= Math.fround(INK_LEVEL * strongest)) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  const h = bottom - top + 1, w = right - left + 1;
  const crop = new Float32Array(h * w); // (h, w)
  for (let y = 0; y < h; y++) crop.set(ink.subarray((top + y) * width + left, (top + y) * width + left + w), y * w);

  // scale the longer side to BOX, keeping the aspect ratio
  const scale = BOX / Math.max(h, w);
  const boxH = Math.max(1, roundHalfEven(h * scale)), boxW = Math.max(1, roundHalfEven(w * scale));
  const box = resizeBilinear(crop, w, h, boxW, boxH); // (boxH, boxW)
  let brightest = 0;
  for (const v of box) brightest = Math.max(brightest, v);
  const gain = Math.fround(255 / brightest); // the brightest pixel becomes full ink, as in MNIST
  for (let i = 0; i < box.length; i++) box[i] = Math.fround(box[i] * gain);

  // translate by whole pixels so the centre of mass lands on (CENTRE, CENTRE), keeping the box inside the image
  const rowMass = new Float64Array(boxH), colMass = new Float64Array(boxW);
  for (let y = 0; y < boxH; y++) {
    for (let x = 0; x < boxW; x++) {
      rowMass[y] += box[y * boxW + x];
      colMass[x] += box[y * boxW + x];
    }
  }
  const y0 = offset(rowMass), x0 = offset(colMass);
  const rows = [];
  for (let y = 0; y < SIDE; y++) {
    const row = new Array(SIDE).fill(0);
    if (y >= y0 && y < y0 + boxH) {
      for (let x = x0; x < x0 + boxW; x++) row[x] = Math.min(255, roundHalfEven(box[(y - y0) * boxW + (x - x0)]));
    }
    rows.push(row);
  }
  return rows;
}

function offset(mass) {
  // where to put the first of mass.length pixels so that their centre of mass lands on CENTRE
  let total = 0, moment = 0;
  mass.forEach((m, i) => { total += m; moment += i * m; });
  return Math.min(Math.max(roundHalfEven(CENTRE - moment / total), 0), SIDE - mass.length);
}

function roundHalfEven(x) {
  // NumPy's rint and Python's round: halves go to the even neighbour
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Pillow's resize(..., BILINEAR) in mode "F": a triangle filter whose support widens with the shrink factor, so each
// output pixel averages all the input under it; rows first, then columns, through a float32 image in between.
function resizeBilinear(pixels, width, height, outW, outH) {
  let image = pixels, w = width;
  if (outW !== width) {
    image = resamplePass(image, w, height, outW, true);
    w = outW;
  }
  if (outH !== height) image = resamplePass(image, w, height, outH, false);
  return image === pixels ? Float32Array.from(pixels) : image;
}

function resamplePass(image, width, height, outSize, horizontal) {
  const inSize = horizontal ? width : height;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1.0 * filterScale; // the triangle's support is 1, widened when shrinking
  const step = 1 / filterScale;
  const out = new Float32Array(horizontal ? outSize * height : width * outSize);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const first = Math.max(Math.trunc(centre - support + 0.5), 0);
    const last = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const weights = [];
    let sum = 0;
    for (let i = first; i < last; i++) {
      const t = Math.abs((i - centre + 0.5) * step);
      const weight = t < 1 ? 1 - t : 0;
      weights.push(weight);
      sum += weight;
    }
    if (sum !== 0) for (let k = 0; k < weights.length; k++) weights[k] /= sum;
    const lines = horizontal ? height : width;
    for (let line = 0; line < lines; line++) {
      let value = 0;
      for (let k = 0; k < weights.length; k++) {
        const i = first + k;
        value += weights[k] * (horizontal ? image[line * width + i] : image[i * width + line]);
      }
      if (horizontal) out[line * outSize + o] = value;
      else out[o * width + line] = value;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- the network
// The layers of model.json, with their arrays cut out of model.bin (float32, little-endian). Rows are examples and
// images are channels-last, as in digitnet: a Dense layer's W is (n_in, n_out) and Z = X @ W + b; a convolution's
// W is (k, k, c_in, c_out) and an image (h, w, c) is stored row by row, channel fastest. Every array is read in
// that order, so one image is simply a Float32Array of h * w * c values.
const MAP_CHANNELS = 8; // channels of each convolution block shown (serve.MAP_CHANNELS)
const ARRAYS = ["W", "b", "gamma", "beta", "running_mean", "running_var"];

async function loadBundledModel(url) {
  const model = await (await fetch(url)).json();
  const buffer = await (await fetch(new URL(model.weights, new URL(url, location.href)))).arrayBuffer();
  const all = new Float32Array(buffer);
  model.layers = model.layers.map((layer) => {
    const loaded = { ...layer };
    for (const key of ARRAYS) {
      if (key in layer) loaded[key] = all.subarray(layer[key][0], layer[key][0] + layer[key][1]);
    }
    return loaded;
  });
  return model;
}

// What the server's /api/predict answers, computed here: the digit, probabilities, input, hidden activations (or a
// convolutional network's feature maps) and the strongest units of a dense first hidden layer with their weights.
function readDigit(model, rows, strongestCount) {
  let A = Float32Array.from(rows.flat(), (v) => v * model.input_scale); // (784,) in [0, 1]
  let shape = model.input_shape ?? [A.length]; // (h, w, c) for a convolutional network, else (784,)
  const hidden = [], maps = [];
  for (const layer of model.layers) {
    if (layer.type === "dense") [A, shape] = [dense(A, layer), [layer.n_out]];
    else if (layer.type === "conv") [A, shape] = conv(A, shape, layer);
    else if (layer.type === "pool") [A, shape] = pool(A, shape);
    else if (layer.type === "bn") A = batchNorm(A, layer);
    else if (layer.type === "flatten") shape = [A.length]; // (h, w, c) row by row is already the flat row
    else if (layer.type === "relu") {
      A = A.map((z) => Math.max(z, 0)); // A = max(Z, 0)
      if (shape.length === 3) maps.push(featureMaps(A, shape));
      else hidden.push(A);
    }
  }
  const top = Math.max(...A); // softmax with the maximum subtracted, so exp cannot overflow
  const e = Array.from(A, (z) => Math.exp(z - top));
  const total = e.reduce((s, v) => s + v, 0);
  const probabilities = e.map((v) => v / total);
  const digit = probabilities.indexOf(Math.max(...probabilities));
  const firstDense = model.layers[0].type === "dense";
  return {
    digit,
    probabilities,
    pixels: rows,
    hidden: hidden.map((h) => Array.from(h)),
    maps,
    strongest: firstDense && hidden.length ? strongestUnits(model.layers[0], hidden[0], strongestCount) : [],
  };
}

function dense(X, layer) {
  const { n_in: nIn, n_out: nOut, W, b } = layer;
  const Z = Float32Array.from(b); // Z = b + X @ W, one input value at a time
  for (let i = 0; i < nIn; i++) {
    const x = X[i];
    if (x === 0) continue; // most pixels, and half the units after a ReLU, are 0
    for (let j = 0; j < nOut; j++) Z[j] += x * W[i * nOut + j];
  }
  return Z;
}

function conv(X, [h, w, cIn], { k, pad, c_out: cOut, W, b }) {
  // Z[y, x, o] = b[o] + sum over i, j, c of X[y + i - pad, x + j - pad, c] * W[i, j, c, o]; zeros outside X
  const hOut = h + 2 * pad - k + 1, wOut = w + 2 * pad - k + 1;
  const Z = new Float32Array(hOut * wOut * cOut);
  for (let y = 0; y < hOut; y++) {
    for (let x = 0; x < wOut; x++) {
      const z = (y * wOut + x) * cOut;
      Z.set(b, z);
      for (let i = 0; i < k; i++) {
        const yi = y + i - pad;
        if (yi < 0 || yi >= h) continue;
        for (let j = 0; j < k; j++) {
          const xj = x + j - pad;
          if (xj < 0 || xj >= w) continue;
          for (let c = 0; c < cIn; c++) {
            const v = X[(yi * w + xj) * cIn + c];
            if (v === 0) continue;
            const row = ((i * k + j) * cIn + c) * cOut;
            for (let o = 0; o < cOut; o++) Z[z + o] += v * W[row + o];
          }
        }
      }
    }
  }
  return [Z, [hOut, wOut, cOut]];
}

function pool(X, [h, w, c]) {
  // the largest value of each 2x2 window; an odd last row or column is dropped
  const h2 = Math.floor(h / 2), w2 = Math.floor(w / 2);
  const A = new Float32Array(h2 * w2 * c).fill(-Infinity);
  for (let y = 0; y < 2 * h2; y++) {
    for (let x = 0; x < 2 * w2; x++) {
      const into = ((y >> 1) * w2 + (x >> 1)) * c, from = (y * w + x) * c;
      for (let ch = 0; ch < c; ch++) A[into + ch] = Math.max(A[into + ch], X[from + ch]);
    }
  }
  return [A, [h2, w2, c]];
}

function batchNorm(X, { gamma, beta, running_mean: mean, running_var: variance, eps }) {
  // inference: A = gamma * (X - mean) / sqrt(var + eps) + beta, per channel (the last axis)
  const c = gamma.length;
  return X.map((v, i) => {
    const ch = i % c;
    return (gamma[ch] * (v - mean[ch])) / Math.sqrt(variance[ch] + eps) + beta[ch];
  });
}

function featureMaps(A, [h, w, c]) {
  // one block's first channels, each an image scaled to 0-255 by its own largest value, as the server sends them
  const channels = [];
  for (let ch = 0; ch < Math.min(c, MAP_CHANNELS); ch++) {
    let top = 1e-12;
    for (let i = ch; i < A.length; i += c) top = Math.max(top, A[i]);
    const rows = [];
    for (let y = 0; y < h; y++) {
      rows.push(Array.from({ length: w }, (_, x) => roundHalfEven((255 * A[(y * w + x) * c + ch]) / top)));
    }
    channels.push(rows);
  }
  return { size: [h, w, c], channels };
}

function strongestUnits(first, activations, k) {
  const units = Array.from(activations.keys()).filter((i) => activations[i] > 0);
  units.sort((i, j) => activations[j] - activations[i] || i - j);
  return units.slice(0, k).map((unit) => {
    const column = Array.from({ length: first.n_in }, (_, i) => first.W[i * first.n_out + unit]);
    const largest = Math.max(...column.map(Math.abs)) || 1;
    const weights = [];
    for (let y = 0; y < SIDE; y++) weights.push(column.slice(y * SIDE, (y + 1) * SIDE).map((w) => w / largest));
    return { unit, activation: activations[unit], weights };
  });
}

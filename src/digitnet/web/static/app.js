// The drawing page. While you draw, the canvas is prepared the way MNIST was prepared, right here (offline.js,
// step by step what the server's drawing.prepare does), and the 28x28 digit is sent to /api/predict, which answers
// with the digit, the probabilities, the image the network received and the hidden layer's activations. Ink is
// drawn on a transparent canvas, so the canvas's opacity is the ink. Sending 784 pixels instead of a 280x280 PNG
// spares the server decoding and preparing it, most of a request's work besides HTTP itself.
//
// The same page runs with no server at all: `digitnet export MODEL --format web` names a bundled model in a
// <meta name="digitnet-model"> tag, and then offline.js prepares the drawing and runs the network right here,
// answering exactly what the server would.
"use strict";

const BRUSH = 24; // stroke width on the 280x280 canvas: about 2.5 MNIST pixels for a digit the pad's height
const STRONGEST = 6; // units shown with their weights (serve.STRONGEST)
const bundled = document.querySelector('meta[name="digitnet-model"]')?.content ?? null;
const bundledModel = bundled === null ? null : loadBundledModel(bundled); // a promise of the weights

const pad = document.getElementById("pad");
const ink = pad.getContext("2d");
const seen = document.getElementById("seen");
const $ = (id) => document.getElementById(id);

let hasInk = false;
let pointer = null; // the one pointer drawing now: {id, x, y}
let version = 0; // bumped by every change to the pad, Clear included
let clearedAt = 0; // the version Clear made: an answer about an older drawing is dropped
let busy = false; // a prediction request is on its way
let shown = null; // the last prediction shown, whose pixels "correct me" stores

// ---------------------------------------------------------------------------------------------- drawing
ink.lineCap = "round";
ink.lineJoin = "round";
ink.lineWidth = BRUSH;
ink.strokeStyle = ink.fillStyle = "#16181d";

function position(event) {
  // pointer position in canvas pixels, whatever size CSS gives the canvas (inside its border)
  const box = pad.getBoundingClientRect();
  return [
    (event.clientX - box.left - pad.clientLeft) * (pad.width / pad.clientWidth),
    (event.clientY - box.top - pad.clientTop) * (pad.height / pad.clientHeight),
  ];
}

pad.addEventListener("pointerdown", (event) => {
  if (pointer !== null || (event.pointerType === "mouse" && event.button !== 0)) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  const [x, y] = position(event);
  pointer = { id: event.pointerId, x, y };
  ink.beginPath();
  ink.arc(x, y, BRUSH / 2, 0, 2 * Math.PI);
  ink.fill();
  started();
});

pad.addEventListener("pointermove", (event) => {
  if (pointer === null || event.pointerId !== pointer.id) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  ink.beginPath();
  ink.moveTo(pointer.x, pointer.y);
  for (const e of events.length ? events : [event]) {
    [pointer.x, pointer.y] = position(e);
    ink.lineTo(pointer.x, pointer.y);
  }
  ink.stroke();
  changed();
});

for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, (event) => {
    if (pointer !== null && event.pointerId === pointer.id) {
      pointer = null;
      changed();
    }
  });
}

function started() {
  if (!hasInk) {
    hasInk = true;
    $("hint").hidden = true;
  }
  changed();
}

function clear() {
  ink.clearRect(0, 0, pad.width, pad.height);
  hasInk = false;
  pointer = null;
  shown = null;
  clearedAt = bump();
  document.body.dataset.read = clearedAt; // nothing left to read
  $("hint").hidden = false;
  $("digit").textContent = "?";
  $("confidence").textContent = "Waiting for a drawing";
  $("stored").textContent = "";
  seen.getContext("2d").clearRect(0, 0, 28, 28);
  renderBars(null);
  renderLayers(null);
  renderUnits([]);
  setLabelsEnabled(false);
}

$("clear").addEventListener("click", clear);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") clear();
});

// ----------------------------------------------------------------------------------------- talking to it
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.detail || `${response.status} ${response.statusText}`);
  return answer;
}

function bump() {
  // pad.dataset.version and body.dataset.read tell (a person in the inspector, or a test) whether what the page
  // shows is about the drawing now on the pad
  version += 1;
  pad.dataset.version = version;
  return version;
}

function changed() {
  bump();
  if (!busy) predict(); // at most one request in flight: what is drawn meanwhile goes in the next one
}

async function predict() {
  busy = true;
  const asked = version;
  try {
    const prediction = bundled === null
      ? await post("/api/predict", { pixels: preparedHere(), prepared: true })
      : readDigit(await bundledModel, preparedHere(), STRONGEST);
    if (asked > clearedAt) show(prediction);
  } catch (error) {
    if (asked > clearedAt) $("confidence").textContent = `Error: ${error.message}`;
  } finally {
    if (asked > clearedAt) document.body.dataset.read = asked;
    busy = false;
    if (version !== asked && version > clearedAt) predict();
  }
}

function preparedHere() {
  // the pad as the 28x28 digit the network reads: the ink is the canvas's opacity, as the server reads it from a PNG
  const rgba = ink.getImageData(0, 0, pad.width, pad.height).data;
  const alpha = new Float32Array(pad.width * pad.height);
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[4 * i + 3];
  const rows = prepare(alpha, pad.width, pad.height);
  if (rows === null) throw new Error("the drawing is blank (no pixel has ink); draw a digit first");
  return rows;
}

async function store(label) {
  if (shown === null) return;
  setLabelsEnabled(false);
  try {
    const stored = await post("/api/corrections", { pixels: shown.pixels, prepared: true, label });
    const digits = stored.count === 1 ? "1 digit" : `${stored.count} digits`;
    $("stored").textContent =
      `Saved as a ${stored.label}: ${digits} of yours in ${stored.path}, a CSV that digitnet train --data reads.`;
    loadModelInfo();
  } catch (error) {
    $("stored").textContent = `Not saved: ${error.message}`;
  } finally {
    setLabelsEnabled(shown !== null);
  }
}

// ---------------------------------------------------------------------------------------------- showing
function show(prediction) {
  shown = prediction;
  const p = prediction.probabilities[prediction.digit];
  $("digit").textContent = String(prediction.digit);
  $("confidence").textContent = `${(100 * p).toFixed(1)}% sure`;
  $("stored").textContent = "";
  drawDigit(seen, prediction.pixels, (v) => [255 - v, 255 - v, 255 - v]);
  renderBars(prediction);
  renderLayers(prediction.hidden);
  renderUnits(prediction.strongest);
  renderMaps(prediction.maps);
  setLabelsEnabled(true);
}

function drawDigit(canvas, rows, colour) {
  const context = canvas.getContext("2d");
  const image = context.createImageData(rows[0].length, rows.length);
  rows.flat().forEach((v, i) => {
    image.data.set([...colour(v), 255], 4 * i);
  });
  context.putImageData(image, 0, 0);
}

const bars = [];
for (let d = 0; d < 10; d++) {
  const row = document.createElement("li");
  row.dataset.digit = d;
  row.innerHTML = `<span class="label">${d}</span><span class="track"><span class="fill"></span></span>` +
    `<span class="value"></span>`;
  $("bars").append(row);
  bars.push(row);

  const button = document.createElement("button");
  button.type = "button";
  button.textContent = d;
  button.dataset.digit = d;
  button.disabled = true;
  button.setAttribute("aria-label", `This is a ${d}: save it`);
  button.addEventListener("click", () => store(d));
  $("labels").append(button);
}

function renderBars(prediction) {
  bars.forEach((row, d) => {
    const p = prediction ? prediction.probabilities[d] : 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".value").textContent = prediction ? `${(100 * p).toFixed(1)}%` : "";
    row.classList.toggle("top", prediction !== null && d === prediction.digit);
  });
}

function setLabelsEnabled(enabled) {
  for (const button of $("labels").children) button.disabled = !enabled;
}

function renderLayers(hidden) {
  const box = $("layers");
  if (hidden === null) {
    for (const canvas of box.children) canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
    $("inside-summary").textContent = "Each square is one unit of the hidden layer; the darker, the more it fires.";
    return;
  }
  if (box.children.length !== hidden.length) box.replaceChildren(...hidden.map(layerCanvas));
  const counts = hidden.map((activations, layer) => {
    const canvas = box.children[layer];
    const context = canvas.getContext("2d");
    const image = context.createImageData(canvas.width, canvas.height);
    const top = Math.max(...activations, 1e-6);
    activations.forEach((a, i) => {
      const t = a / top; // 0 silent .. 1 the most active unit
      const colour = a > 0 ? [255 - 230 * t, 255 - 160 * t, 255 - 40 * t] : [236, 238, 242];
      image.data.set([...colour, 255], 4 * i); // row by row, canvas.width units a row
    });
    context.putImageData(image, 0, 0);
    const active = activations.filter((a) => a > 0).length;
    canvas.title = `hidden layer ${layer + 1}: ${active} of ${activations.length} units fire`;
    return `${active} of ${activations.length}`;
  });
  $("inside-summary").textContent = hidden.length === 1
    ? `The hidden layer: ${counts[0]} units fire for this drawing; one square per unit, darker fires harder.`
    : `${hidden.length} hidden layers (${counts.join(", ")} units fire); one square per unit, darker fires harder.`;
}

function layerCanvas(activations) {
  // one pixel per unit, shown as a square of UNIT css pixels (narrower on a small screen), twice as wide as tall
  const UNIT = 14;
  const columns = Math.ceil(Math.sqrt(2 * activations.length));
  const canvas = document.createElement("canvas");
  canvas.width = columns;
  canvas.height = Math.ceil(activations.length / columns);
  canvas.style.width = `${columns * UNIT}px`;
  canvas.className = "layer";
  return canvas;
}

function renderUnits(units) {
  $("units").replaceChildren(
    ...units.map((unit) => {
      const figure = document.createElement("figure");
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = 28;
      drawDigit(canvas, unit.weights, (w) =>
        w > 0 ? [255, 255 - 215 * w, 255 - 215 * w] : [255 + 215 * w, 255 + 150 * w, 255]);
      const caption = document.createElement("figcaption");
      caption.textContent = `unit ${unit.unit}: ${unit.activation.toFixed(2)}`;
      figure.append(canvas, caption);
      return figure;
    }),
  );
}

function renderMaps(maps) {
  // a convolutional network: one row per block, one small image per channel shown
  $("units-note").hidden = maps.length > 0;
  $("maps-note").hidden = maps.length === 0;
  $("maps").replaceChildren(
    ...maps.map((block, b) => {
      const [h, w, c] = block.size;
      const row = document.createElement("figure");
      const caption = document.createElement("figcaption");
      caption.textContent = `block ${b + 1}: ${h}×${w}, ${block.channels.length} of ${c} channels`;
      row.append(caption);
      for (const channel of block.channels) {
        const canvas = document.createElement("canvas");
        canvas.width = w;
        canvas.height = h;
        drawDigit(canvas, channel, (v) => [255 - 0.9 * v, 255 - 0.63 * v, 255 - 0.16 * v]);
        row.append(canvas);
      }
      return row;
    }),
  );
}

// ------------------------------------------------------------------------------------------------ start
async function loadModelInfo() {
  try {
    const model = bundled === null ? await (await fetch("/api/model")).json() : (await bundledModel).info;
    const accuracy = model.test_accuracy === null ? "" : `, ${(100 * model.test_accuracy).toFixed(1)}% right on the ${model.data} test set`;
    const corrections = model.corrections ? `; ${model.corrections} of your digits saved` : "";
    $("model-info").textContent = `Network ${model.sizes.join(" → ")}${accuracy}${corrections}.`;
  } catch {
    // the page works without it
  }
}

if (bundled !== null) {
  // no server to save corrections to
  $("correct").hidden = true;
  document.querySelector("footer p").textContent =
    "Everything runs in this browser: the network's weights came with the page, and nothing is sent anywhere.";
}
clear();
loadModelInfo();

// taxa's Web Worker: every inference runs here, never on the page's thread.
//
// Protocol (page → worker):
//   {type:'load', id, bundle: ArrayBuffer, name}     a taxa bundle; the previous
//                                                     model stays if it fails
//   {type:'classify', id, rgba: ArrayBuffer, width, height, topK}
//   {type:'frame', id, rgba, width, height, topK}    a camera frame, smoothed
//   {type:'reset'}                                    forget the smoothed frames
//   {type:'panic-test'}                               a wasm panic, on purpose
// (worker → page):
//   {type:'ready'}  {type:'loaded', id, info}  {type:'result', id, result, ms}
//   {type:'error', id, kind, message}  {type:'panic', message}
//
// A Rust panic aborts the wasm instance (a RuntimeError: unreachable); the
// panic hook first calls self.taxaPanic. After either the worker reports a
// panic and answers nothing more: the page ends it and starts a new one.
'use strict';

// Defined before the wasm starts: its panic hook calls it.
let dead = false;
self.taxaPanic = function (message) {
  if (!dead) {
    dead = true;
    self.postMessage({ type: 'panic', message: String(message) });
  }
};

importScripts('taxa_wasm.js');

const ROLLUP_THRESHOLD = 0.8; // iNaturalist's own
const SMOOTHING_FRAMES = 5;

let classifier = null;
let smoother = null;

function isPanic(error) {
  return dead || error instanceof WebAssembly.RuntimeError;
}

function reportError(id, error) {
  if (isPanic(error)) {
    self.taxaPanic(error && error.message ? error.message : String(error));
    return;
  }
  const kind = error && error.name === 'TaxaError' ? error.kind || 'taxa' : (error && error.name) || 'error';
  const message = error && error.message ? error.message : String(error);
  self.postMessage({ type: 'error', id, kind, message });
}

function handle(msg) {
  if (dead) return; // the instance is gone: the page is replacing the worker
  const id = msg.id;
  try {
    switch (msg.type) {
      case 'load': {
        const next = new wasm_bindgen.Classifier(new Uint8Array(msg.bundle));
        const info = JSON.parse(next.info());
        if (classifier) classifier.free();
        classifier = next;
        smoother.reset();
        self.postMessage({ type: 'loaded', id, name: msg.name, info });
        break;
      }
      case 'classify':
      case 'frame': {
        if (!classifier) throw Object.assign(new Error('No model is loaded yet'), { name: 'NoModel' });
        const rgba = new Uint8Array(msg.rgba);
        const topK = msg.topK || 5;
        const t0 = performance.now();
        const json = msg.type === 'frame'
          ? classifier.classify_frame(rgba, msg.width, msg.height, topK, ROLLUP_THRESHOLD, smoother)
          : classifier.classify_pixels(rgba, msg.width, msg.height, topK, ROLLUP_THRESHOLD);
        const ms = performance.now() - t0;
        self.postMessage({ type: 'result', id, result: JSON.parse(json), ms });
        break;
      }
      case 'reset':
        smoother.reset();
        break;
      case 'panic-test':
        wasm_bindgen.panic_for_testing();
        break;
      default:
        self.postMessage({ type: 'error', id, kind: 'protocol', message: 'Unknown message ' + msg.type });
    }
  } catch (error) {
    reportError(id, error);
  }
}

// Messages that arrive while the wasm compiles wait for it, in order.
const started = wasm_bindgen({ module_or_path: 'taxa_wasm_bg.wasm' }).then(
  () => {
    smoother = new wasm_bindgen.Smoother(SMOOTHING_FRAMES);
    self.postMessage({ type: 'ready' });
    return true;
  },
  (error) => {
    self.postMessage({ type: 'error', id: null, kind: 'wasm_start', message: String(error && error.message || error) });
    return false;
  },
);

self.onmessage = (event) => {
  const msg = event.data;
  started.then((ok) => {
    if (ok) handle(msg);
    else self.postMessage({ type: 'error', id: msg.id, kind: 'wasm_start', message: 'The classifier could not start' });
  });
};

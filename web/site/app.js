// taxa's page: photos and camera frames in, the worker's answers out.
// Inference runs only in worker.js; this thread decodes, draws and talks.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);

  const BUILTIN = {
    bird: { file: 'models/inat_bird.onnx', name: 'Birds (built-in)' },
    insect: { file: 'models/inat_insect.onnx', name: 'Insects (built-in)' },
  };
  const CHOICE_KEY = 'taxa.model'; // localStorage: 'bird' | 'insect' | 'own'
  const OWN_KEY = 'own'; // IndexedDB key of the user's own bundle
  // Photos keep their full resolution up to this many pixels (taxa resizes
  // to the model's input itself, as natively). Larger ones are scaled down
  // with the canvas: 16 MP is already 64 MB of RGBA, and mobile browsers cap
  // a canvas near 16.7 MP.
  const MAX_PIXELS = 16_000_000;
  const PREVIEW_SIDE = 960; // the shown photo's longer side, at most
  const TOP_K = 5;
  const LIVE_INTERVAL_MS = 300;
  const LIVE_SIDE = 640; // camera frames are drawn at most this large
  // A tiny module with v128 and i8x16.popcnt: WebAssembly.validate tells
  // whether this browser has SIMD, which taxa's wasm is built with.
  const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

  const state = {
    ready: false, // a model is loaded in a live worker
    model: null, // {key, name, bytes, info}
    lastResult: null,
    lastError: null,
    photoCount: 0, // photos finished, well or not
    modelLoads: 0, // model loads finished, well or not
    restarts: 0,
    lastPanic: null,
    live: { on: false, frames: 0, result: null, error: null },
  };
  let ownModel = null; // the user's own bundle, this visit: {key:'own', name, bytes}

  // ---- messages ----------------------------------------------------------

  function notice(key, text, kind = 'error') {
    let p = document.querySelector(`#notices [data-key="${key}"]`);
    if (!text) {
      if (p) p.remove();
      return;
    }
    if (!p) {
      p = document.createElement('p');
      p.dataset.key = key;
      $('notices').append(p);
    }
    p.className = `notice ${kind}`;
    p.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    p.textContent = text;
  }

  function setStatus(text, kind = '') {
    const el = $('status');
    el.textContent = text;
    el.className = `status ${kind}`;
  }

  function setModelStatus(text, kind = '') {
    const el = $('model-status');
    el.textContent = text;
    el.className = `status ${kind}`;
  }

  const oneLine = (text) => String(text).replace(/\s+/g, ' ').trim();
  const pct = (score) => {
    const p = score * 100;
    return `${p >= 10 ? Math.round(p) : p >= 1 ? p.toFixed(1) : p < 0.1 ? '<0.1' : p.toFixed(1)}\u00a0%`;
  };

  // ---- the worker --------------------------------------------------------

  let worker = null;
  let nextId = 1;
  const pending = new Map();
  let readyWaiters = [];

  function setReady(ready) {
    state.ready = ready;
    if (ready) {
      readyWaiters.forEach((resolve) => resolve());
      readyWaiters = [];
    }
  }
  const whenReady = () => (state.ready ? Promise.resolve() : new Promise((resolve) => readyWaiters.push(resolve)));

  function startWorker() {
    const w = new Worker('worker.js');
    worker = w;
    w.onmessage = (event) => {
      if (w === worker) onWorkerMessage(event.data);
    };
    w.onerror = (event) => {
      event.preventDefault();
      if (w === worker) restartAfterPanic(event.message || 'the worker failed');
    };
  }

  function call(msg, transfer = []) {
    return new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...msg, id }, transfer);
    });
  }

  function settle(id, error, value) {
    const p = pending.get(id);
    if (!p) return;
    pending.delete(id);
    if (error) p.reject(error);
    else p.resolve(value);
  }

  function onWorkerMessage(msg) {
    switch (msg.type) {
      case 'ready':
        break;
      case 'loaded':
      case 'result':
        settle(msg.id, null, msg);
        break;
      case 'error': {
        const error = Object.assign(new Error(msg.message), { kind: msg.kind });
        if (msg.id == null) notice('worker', `The classifier could not start: ${msg.message}`);
        else settle(msg.id, error);
        break;
      }
      case 'panic':
        restartAfterPanic(msg.message);
        break;
    }
  }

  // A wasm panic kills the instance: end that worker, start a new one and
  // load the current model again.
  let recentRestarts = [];

  function restartAfterPanic(message) {
    const why = oneLine(message);
    worker.terminate();
    setReady(false);
    state.restarts++;
    state.lastPanic = why;
    const error = Object.assign(new Error(`The classifier stopped (${why})`), { kind: 'panic' });
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    // A worker that cannot even start would fail again at once: stop trying.
    const now = performance.now();
    recentRestarts = recentRestarts.filter((t) => now - t < 60_000).concat(now);
    if (recentRestarts.length > 3) {
      notice('panic', `The classifier keeps stopping (${why}). Reload the page to try again.`);
      return;
    }
    startWorker();
    notice('panic', `The classifier stopped (${why}) and was restarted.`);
    const model = state.model;
    if (!model) return;
    loadIntoWorker(model).then(
      () => setReady(true),
      (e) => notice('panic', `The classifier stopped (${why}) and could not be restarted: ${e.message}. Reload the page.`),
    );
  }

  async function loadIntoWorker(model) {
    // Copied, not transferred: the page keeps the bytes for a restart.
    const msg = await call({ type: 'load', bundle: model.bytes, name: model.name });
    return msg.info;
  }

  // ---- models ------------------------------------------------------------

  function saveChoice(key) {
    try {
      localStorage.setItem(CHOICE_KEY, key);
    } catch {
      /* storage off: the choice lasts this visit */
    }
  }

  function savedChoice() {
    try {
      return localStorage.getItem(CHOICE_KEY);
    } catch {
      return null;
    }
  }

  function showOwnOption() {
    const select = $('model');
    let option = select.querySelector('option[value="own"]');
    if (!ownModel) {
      if (option) option.remove();
      return;
    }
    if (!option) {
      option = document.createElement('option');
      option.value = 'own';
      select.append(option);
    }
    option.textContent = `Your model: ${ownModel.name}`;
  }

  function describeModel(model) {
    const info = model.info || {};
    const [w, h] = info.input || [];
    return `${model.name}: ${info.classes} classes${w ? `, ${w}×${h} px input` : ''}`;
  }

  function showAbout(model) {
    const info = model.info || {};
    const prov = info.provenance || {};
    const extra = prov.extra || {};
    $('about-name').textContent = `${model.name}${info.architecture ? ` (${info.architecture})` : ''}`;
    $('about-classes').textContent = String(info.classes ?? '—');
    $('about-source').textContent = extra.source || prov.dataset || 'not stated in the model';
    $('about-license').textContent = extra.license || 'not stated in the model';
  }

  // Makes `model` the active one. On failure the previous model stays.
  async function activate(model) {
    setModelStatus(`Loading ${model.name}…`);
    try {
      model.info = await loadIntoWorker(model);
    } catch (e) {
      const still = state.model ? ` Still using ${state.model.name}.` : '';
      setModelStatus(`This model could not be loaded: ${oneLine(e.message)}.${still}`, 'error');
      $('model').value = state.model ? state.model.key : 'bird';
      return false;
    } finally {
      state.modelLoads++;
    }
    state.model = model;
    $('model').value = model.key;
    showAbout(model);
    setModelStatus(`Using ${describeModel(model)}.`);
    setReady(true);
    return true;
  }

  async function useBuiltin(key) {
    const spec = BUILTIN[key];
    setModelStatus(`Loading ${spec.name}…`);
    let bytes;
    try {
      const response = await fetch(spec.file);
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      bytes = await response.arrayBuffer();
    } catch (e) {
      state.modelLoads++;
      const still = state.model ? ` Still using ${state.model.name}.` : '';
      setModelStatus(`Could not download ${spec.name} (${oneLine(e.message)}): it needs a connection the first time.${still}`, 'error');
      $('model').value = state.model ? state.model.key : key;
      return false;
    }
    const ok = await activate({ key, name: spec.name, bytes });
    if (ok) saveChoice(key);
    return ok;
  }

  // ---- the user's own bundle in IndexedDB ---------------------------------

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open('taxa', 1);
      request.onupgradeneeded = () => request.result.createObjectStore('models');
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function dbRequest(mode, run) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction('models', mode);
        const request = run(tx.objectStore('models'));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = tx.onabort = () => reject(tx.error || request.error || new Error('the transaction was aborted'));
      });
    } finally {
      db.close();
    }
  }

  async function readOwnModel() {
    if (!window.indexedDB) return null;
    const stored = await dbRequest('readonly', (store) => store.get(OWN_KEY));
    return stored && stored.bytes ? { key: 'own', name: stored.name, bytes: stored.bytes } : null;
  }

  // Keeps the bundle for the next visit. Returns 'kept', 'full' or a reason.
  async function keepOwnModel(model) {
    try {
      if (!window.indexedDB) return 'this browser cannot store files';
      if (navigator.storage && navigator.storage.estimate) {
        const { usage = 0, quota } = await navigator.storage.estimate();
        if (quota !== undefined && quota - usage < model.bytes.byteLength * 1.2 + 1e6) {
          throw new DOMException('not enough storage left', 'QuotaExceededError');
        }
      }
      if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
      await dbRequest('readwrite', (store) => store.put({ name: model.name, bytes: model.bytes, saved: Date.now() }, OWN_KEY));
      return 'kept';
    } catch (e) {
      return e && e.name === 'QuotaExceededError' ? 'full' : oneLine(e && e.message ? e.message : e);
    }
  }

  async function onOwnModelFile(file) {
    const model = { key: 'own', name: file.name, bytes: await file.arrayBuffer() };
    if (!(await activate(model))) return;
    ownModel = model;
    showOwnOption();
    $('model').value = 'own';
    const kept = await keepOwnModel(model);
    if (kept === 'kept') {
      saveChoice('own');
      setModelStatus(`Using ${describeModel(model)}. It is kept on this device for your next visit.`);
    } else if (kept === 'full') {
      setModelStatus(`Using ${describeModel(model)}. Your browser's storage is full: this model works now but will not be kept.`, 'warn');
    } else {
      setModelStatus(`Using ${describeModel(model)}. It could not be stored (${kept}): it works now but will not be kept.`, 'warn');
    }
  }

  async function onModelChoice(key) {
    if (state.model && state.model.key === key) return;
    if (key === 'own') {
      if (ownModel && (await activate(ownModel))) saveChoice('own');
      return;
    }
    await useBuiltin(key);
  }

  // ---- photos ------------------------------------------------------------

  async function decodeBitmap(file) {
    try {
      return await createImageBitmap(file, { imageOrientation: 'from-image' });
    } catch (e) {
      // Browsers from before the 'from-image' value reject the option itself.
      if (e && e.name === 'TypeError') return createImageBitmap(file);
      throw e;
    }
  }

  // The photo's pixels, upright (EXIF orientation applied), as RGBA.
  async function decode(file) {
    const bitmap = await decodeBitmap(file);
    try {
      const [fullW, fullH] = [bitmap.width, bitmap.height];
      if (!fullW || !fullH) throw new Error('the image is empty');
      let [w, h] = [fullW, fullH];
      if (w * h > MAX_PIXELS) {
        // Too large to keep whole: the canvas scales it down to ~16 MP.
        const s = Math.sqrt(MAX_PIXELS / (w * h));
        w = Math.max(1, Math.floor(w * s));
        h = Math.max(1, Math.floor(h * s));
      }
      const canvas = document.createElement('canvas');
      canvas.width = w;
      canvas.height = h;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      ctx.drawImage(bitmap, 0, 0, w, h);
      const image = ctx.getImageData(0, 0, w, h);
      showPhoto(bitmap, file.name);
      return { image, width: w, height: h, fullW, fullH };
    } finally {
      bitmap.close();
    }
  }

  function showPhoto(bitmap, name) {
    const s = Math.min(1, PREVIEW_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = $('photo');
    canvas.width = Math.max(1, Math.round(bitmap.width * s));
    canvas.height = Math.max(1, Math.round(bitmap.height * s));
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    canvas.setAttribute('aria-label', `Your photo: ${name}`);
    $('photo-caption').textContent = `${name}, ${bitmap.width}×${bitmap.height} px`;
    $('photo-figure').hidden = false;
  }

  let photoSeq = 0;

  async function onPhotoFile(file) {
    const seq = ++photoSeq;
    const current = () => seq === photoSeq;
    try {
      setStatus(`Reading ${file.name}…`);
      let decoded;
      const t0 = performance.now();
      try {
        decoded = await decode(file);
      } catch (e) {
        if (!current()) return;
        $('photo-figure').hidden = true;
        clearResult('No result: the photo could not be read.');
        const reason = oneLine(e && e.message ? e.message : e).replace(/\.+$/, '');
        const message = `Could not read this photo: ${reason}. Try a JPEG, PNG or WebP photo.`;
        state.lastError = message;
        setStatus(message, 'error');
        return;
      }
      const decodeMs = performance.now() - t0;
      if (!current()) return;
      if (!state.ready) {
        setStatus('Waiting for the model…');
        await whenReady();
        if (!current()) return;
      }
      setStatus('Identifying…');
      const { image, width, height } = decoded;
      const start = performance.now();
      let msg;
      try {
        msg = await call({ type: 'classify', rgba: image.data.buffer, width, height, topK: TOP_K }, [image.data.buffer]);
      } catch (e) {
        if (!current()) return;
        const message = e.kind === 'panic' ? `${e.message} and was restarted: choose the photo again.` : `Could not identify this photo: ${oneLine(e.message)}`;
        clearResult('No result for this photo.');
        state.lastError = message;
        setStatus(message, 'error');
        return;
      }
      const ms = performance.now() - start;
      if (!current()) return;
      state.lastError = null;
      state.lastResult = {
        file: file.name, model: state.model.name, ms, workerMs: msg.ms, decodeMs, width, height,
        fullWidth: decoded.fullW, fullHeight: decoded.fullH, ...msg.result,
      };
      renderResult(msg.result, state.lastResult);
      setStatus(`${file.name}: done.`);
    } finally {
      state.photoCount++;
    }
  }

  // ---- showing a result --------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function names(prediction) {
    const t = prediction.taxonomy || {};
    return { scientific: t.species || prediction.label, common: t.common_name || '' };
  }

  function rollupLine(rollup) {
    if (!rollup || rollup.rank === 'species') return '';
    const rank = rollup.rank.charAt(0).toUpperCase() + rollup.rank.slice(1);
    return `${rank} ${rollup.name} — ${pct(rollup.score)}`;
  }

  function clearResult(text) {
    $('answer').replaceChildren(el('p', 'hint', text));
    $('predictions').replaceChildren();
    $('rollup').hidden = true;
    $('timing').textContent = '';
  }

  function renderResult(result, meta) {
    const answer = $('answer');
    const list = $('predictions');
    answer.replaceChildren();
    list.replaceChildren();
    const top = result.predictions[0];
    if (!top) {
      answer.append(el('p', 'none', 'No prediction'));
    } else if (!top.is_taxon) {
      answer.append(el('p', 'none', 'No species recognised'));
      answer.append(el('p', 'hint', `Nothing this model knows stands out in the photo (“${top.label}” ${pct(top.score)}).`));
    } else {
      const { scientific, common } = names(top);
      const name = el('p', 'scientific');
      name.append(el('i', '', scientific));
      answer.append(name);
      if (common) answer.append(el('p', 'common', common));
      answer.append(el('p', 'score', `${pct(top.score)} sure`));
    }
    const rollup = $('rollup');
    const line = rollupLine(result.rollup);
    rollup.hidden = !line;
    rollup.textContent = line ? `Species unsure. ${line}` : '';
    for (const p of result.predictions) {
      const item = el('li');
      const label = el('span', 'label');
      if (p.is_taxon) {
        const { scientific, common } = names(p);
        label.append(el('i', '', scientific));
        if (common) label.append(el('span', 'common', ` · ${common}`));
      } else {
        label.append(el('span', '', `No species (${p.label})`));
      }
      const bar = el('span', 'bar');
      const fill = el('span', 'fill');
      fill.style.width = `${Math.max(0.5, p.score * 100)}%`;
      bar.append(fill);
      bar.setAttribute('aria-hidden', 'true');
      item.append(label, el('span', 'pct', pct(p.score)), bar);
      list.append(item);
    }
    let timing = `Identified in ${Math.round(meta.ms)} ms (${meta.width}×${meta.height} px`;
    if (meta.fullWidth !== meta.width) timing += `, scaled down from ${meta.fullWidth}×${meta.fullHeight}`;
    timing += `; decoding took ${Math.round(meta.decodeMs)} ms) with ${meta.model}.`;
    $('timing').textContent = timing;
  }

  // ---- the live camera ---------------------------------------------------

  let live = null; // {stream, timer, busy, canvas, ctx}

  function cameraMessage(e) {
    switch (e && e.name) {
      case 'NotAllowedError':
      case 'PermissionDeniedError':
      case 'SecurityError':
        return 'The camera permission was denied. Allow the camera for this site in your browser’s settings, or choose a photo instead.';
      case 'NotFoundError':
      case 'DevicesNotFoundError':
      case 'OverconstrainedError':
        return 'No camera was found on this device. Choose a photo instead.';
      case 'NotReadableError':
      case 'TrackStartError':
      case 'AbortError':
        return 'The camera could not be started: another app may be using it.';
      default:
        return `The camera could not be started: ${oneLine(e && e.message ? e.message : e)}.`;
    }
  }

  function cameraError(text) {
    state.live.error = text;
    notice('camera', text);
  }

  async function startCamera() {
    notice('camera', '');
    state.live.error = null;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraError(window.isSecureContext
        ? 'This browser gives no access to a camera. Choose a photo instead.'
        : 'The live camera needs a secure connection (HTTPS or localhost). Choose a photo instead.');
      return;
    }
    const toggle = $('camera-toggle');
    toggle.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (e) {
      cameraError(cameraMessage(e));
      return;
    } finally {
      toggle.disabled = false;
    }
    const video = $('camera-video');
    video.srcObject = stream;
    const canvas = document.createElement('canvas');
    live = { stream, timer: 0, busy: false, canvas, ctx: canvas.getContext('2d', { willReadFrequently: true }) };
    for (const track of stream.getVideoTracks()) {
      track.addEventListener('ended', () => {
        stopCamera();
        cameraError('The camera stopped.');
      });
    }
    try {
      await video.play();
    } catch {
      /* frames still arrive once the element can play */
    }
    state.live.on = true;
    state.live.frames = 0;
    state.live.result = null;
    $('camera').hidden = false;
    $('live-result').textContent = 'Looking…';
    $('live-score').textContent = '';
    toggle.setAttribute('aria-pressed', 'true');
    if (worker) worker.postMessage({ type: 'reset' });
    live.timer = setInterval(liveTick, LIVE_INTERVAL_MS);
  }

  function stopCamera() {
    if (!live) return;
    clearInterval(live.timer);
    for (const track of live.stream.getTracks()) track.stop();
    live = null;
    state.live.on = false;
    const video = $('camera-video');
    video.srcObject = null;
    $('camera').hidden = true;
    const toggle = $('camera-toggle');
    toggle.setAttribute('aria-pressed', 'false');
  }

  async function liveTick() {
    const video = $('camera-video');
    if (!live || live.busy || document.hidden || !state.ready || video.readyState < 2 || !video.videoWidth) return;
    const session = live;
    session.busy = true;
    try {
      const s = Math.min(1, LIVE_SIDE / Math.max(video.videoWidth, video.videoHeight));
      const w = Math.max(1, Math.round(video.videoWidth * s));
      const h = Math.max(1, Math.round(video.videoHeight * s));
      if (session.canvas.width !== w || session.canvas.height !== h) {
        session.canvas.width = w;
        session.canvas.height = h;
      }
      session.ctx.drawImage(video, 0, 0, w, h);
      const image = session.ctx.getImageData(0, 0, w, h);
      const start = performance.now();
      const msg = await call({ type: 'frame', rgba: image.data.buffer, width: w, height: h, topK: TOP_K }, [image.data.buffer]);
      if (live !== session) return;
      state.live.frames++;
      state.live.result = { ms: performance.now() - start, ...msg.result };
      renderLive(msg.result, state.live.result.ms);
    } catch (e) {
      if (live === session) $('live-score').textContent = oneLine(e.message);
    } finally {
      session.busy = false;
    }
  }

  function renderLive(result, ms) {
    const top = result.predictions[0];
    let text = 'No species recognised';
    if (top && top.is_taxon) {
      const { scientific, common } = names(top);
      text = common ? `${scientific} — ${common}` : scientific;
    }
    const box = $('live-result');
    if (box.textContent !== text) box.textContent = text; // announced only when it changes
    const parts = [];
    if (top) parts.push(`${pct(top.score)} sure`);
    const line = rollupLine(result.rollup);
    if (line) parts.push(line);
    parts.push(`${Math.round(ms)} ms a frame`);
    $('live-score').textContent = parts.join(' · ');
  }

  // ---- offline and install -----------------------------------------------

  function registerServiceWorker() {
    if (!window.isSecureContext || !('serviceWorker' in navigator)) {
      notice('insecure', 'This page is not on a secure connection (HTTPS or localhost): it cannot work offline, use the camera or be installed. Choosing a photo still works.', 'warn');
      return;
    }
    let hadController = Boolean(navigator.serviceWorker.controller);
    navigator.serviceWorker.addEventListener('controllerchange', () => {
      if (hadController) notice('update', 'A new version of taxa is ready: reload the page to use it.', 'info');
      hadController = true;
    });
    navigator.serviceWorker.register('sw.js').catch((e) => {
      notice('offline', `taxa will not work offline here: ${oneLine(e.message)}`, 'warn');
    });
  }

  function showBuild() {
    fetch('build.json').then((r) => (r.ok ? r.json() : null)).then(
      (b) => {
        $('about-build').textContent = b && b.build ? b.build : 'development';
      },
      () => {
        $('about-build').textContent = 'unknown';
      },
    );
  }

  function hasSimd() {
    try {
      return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
    } catch {
      return false;
    }
  }

  // ---- start -------------------------------------------------------------

  function wire() {
    for (const id of ['choose-photo', 'take-photo']) {
      const input = $(id);
      input.addEventListener('change', () => {
        const file = input.files && input.files[0];
        input.value = ''; // the same photo can be chosen again
        if (file) onPhotoFile(file);
      });
    }
    const own = $('own-model');
    own.addEventListener('change', () => {
      const file = own.files && own.files[0];
      own.value = '';
      if (file) onOwnModelFile(file);
    });
    // A photo dropped on the page, or pasted, is chosen too.
    document.addEventListener('dragover', (event) => {
      if (event.dataTransfer && [...event.dataTransfer.types].includes('Files')) event.preventDefault();
    });
    document.addEventListener('drop', (event) => {
      const file = event.dataTransfer && event.dataTransfer.files[0];
      if (!file) return;
      event.preventDefault();
      if (file.name.toLowerCase().endsWith('.onnx')) onOwnModelFile(file);
      else onPhotoFile(file);
    });
    document.addEventListener('paste', (event) => {
      const file = event.clipboardData && [...event.clipboardData.files].find((f) => f.type.startsWith('image/'));
      if (file) onPhotoFile(file);
    });
    $('model').addEventListener('change', (event) => onModelChoice(event.target.value));
    $('camera-toggle').addEventListener('click', () => (live ? stopCamera() : startCamera()));
    $('camera-stop').addEventListener('click', stopCamera);
  }

  function disableAll() {
    for (const node of document.querySelectorAll('input, select, button')) node.disabled = true;
    for (const label of document.querySelectorAll('label.button')) label.classList.add('disabled');
  }

  async function main() {
    registerServiceWorker();
    showBuild();
    if (typeof WebAssembly !== 'object') {
      notice('simd', 'This browser cannot run WebAssembly, which taxa needs: use a current Chrome, Edge, Firefox or Safari.');
      setStatus('taxa cannot run in this browser.', 'error');
      disableAll();
      return;
    }
    if (!hasSimd()) {
      notice('simd', 'This browser lacks WebAssembly SIMD (Safari before 16.4, or an old browser): update it to use taxa.');
      setStatus('taxa cannot run in this browser.', 'error');
      disableAll();
      return;
    }
    wire();
    startWorker();
    ownModel = await readOwnModel().catch(() => null);
    showOwnOption();
    const choice = savedChoice();
    let ok = false;
    if (choice === 'own' && ownModel) ok = await activate(ownModel);
    if (!ok) ok = await useBuiltin(BUILTIN[choice] ? choice : 'bird');
    setStatus(ok ? 'Ready: choose or take a photo.' : 'No model is loaded.', ok ? '' : 'error');
  }

  // For the browser test (tests/web/test_web.py): nothing the page needs.
  window.taxaTest = {
    panic() {
      worker.postMessage({ type: 'panic-test' });
    },
    state() {
      return JSON.parse(JSON.stringify({
        ...state,
        model: state.model && { key: state.model.key, name: state.model.name, info: state.model.info },
        status: $('status').textContent,
        modelStatus: $('model-status').textContent,
        notices: [...document.querySelectorAll('#notices p')].map((p) => p.textContent),
      }));
    },
  };

  main();
})();

// taxa's service worker: the app offline after the first visit.
//
// scripts/web.sh replaces __TAXA_BUILD__ with the build id (a hash of every
// file), so each build has its own cache and a new build replaces the files:
// the new worker precaches, takes over at once, and deletes older caches.
'use strict';

const CACHE = 'taxa-__TAXA_BUILD__';
const PRECACHE = [
  './',
  'index.html',
  'app.css',
  'app.js',
  'worker.js',
  'taxa_wasm.js',
  'taxa_wasm_bg.wasm',
  'manifest.webmanifest',
  'icons/icon-192.png',
  'icons/icon-512.png',
  'icons/icon-maskable-512.png',
  'build.json',
  'models/inat_bird.onnx',
];
// Cached on first use: the other built-in models.
const ON_USE = /\/models\/[^/]+\.onnx$/;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      // 'reload': past the HTTP cache, so a new build never keeps an old file.
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith('taxa-') && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  event.respondWith(cacheFirst(request, url));
});

async function cacheFirst(request, url) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request, { ignoreSearch: true });
  if (hit) return hit;
  try {
    const response = await fetch(request);
    if (response.ok && response.status === 200 && ON_USE.test(url.pathname)) {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    // Offline: a page of the app's scope still opens the app.
    if (request.mode === 'navigate') {
      const page = await cache.match('./');
      if (page) return page;
    }
    throw error;
  }
}

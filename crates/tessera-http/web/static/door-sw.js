// The door page's service worker: the page and its scripts from the network when there is one
// (and kept), from the cache when there is not, so the scanner opens and works offline.
const CACHE = 'tessera-door-v1';
const SHELL = ['/assets/tessera.css', '/assets/tessera.js', '/assets/htmx.min.js', '/assets/door.js', '/assets/jsQR.js'];
self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener('activate', (e) => e.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  const page = url.pathname === '/door';
  if (e.request.method !== 'GET' || !(page || SHELL.includes(url.pathname))) return;
  e.respondWith(
    fetch(e.request)
      .then((res) => {
        if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put(e.request, copy)); }
        return res;
      })
      .catch(() => caches.match(e.request).then((hit) => hit || caches.match('/door'))),
  );
});

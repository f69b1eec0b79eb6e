// The door scanner: a code typed or read by the camera (BarcodeDetector where the browser has
// it, jsQR otherwise) is checked online by POST /checkin. Without a network it is checked here
// against the event's offline bundle — the Ed25519 signature with WebCrypto, the event, the
// revocation list, the validity window and this device's own earlier scans — and kept in
// IndexedDB until POST /checkin/sync takes it. A service worker keeps the page and its scripts.
(() => {
  const root = document.getElementById('door');
  if (!root) return;
  const d = root.dataset;
  const ev = d.event;
  const $ = (id) => document.getElementById(id);
  const device = localStorage.getItem('tessera-device') || crypto.randomUUID();
  localStorage.setItem('tessera-device', device);

  // --- IndexedDB: the bundle per event, and the scans not yet synced.
  const dbp = new Promise((ok, fail) => {
    const r = indexedDB.open('tessera-door', 1);
    r.onupgradeneeded = () => {
      r.result.createObjectStore('bundles', { keyPath: 'event_id' });
      r.result.createObjectStore('scans', { keyPath: 'scan_id' });
    };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  async function store(name, mode, fn) {
    const db = await dbp;
    return new Promise((ok, fail) => {
      const tx = db.transaction(name, mode);
      const req = fn(tx.objectStore(name));
      tx.oncomplete = () => ok(req && req.result);
      tx.onerror = () => fail(tx.error);
    });
  }
  const pendingScans = async () => (await store('scans', 'readonly', (s) => s.getAll())).filter((x) => x.event_id === ev);

  // --- Codes: unpadded RFC 4648 base32; version · key id · event · ticket · type · from · until · signature.
  function base32(text) {
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0, value = 0;
    const out = [];
    for (const ch of text.trim().toUpperCase()) {
      const i = abc.indexOf(ch);
      if (i < 0) return null;
      value = (value << 5) | i;
      bits += 5;
      if (bits >= 8) { out.push((value >>> (bits - 8)) & 255); bits -= 8; }
    }
    return new Uint8Array(out);
  }
  const uuid = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
    .replace(/(.{8})(.{4})(.{4})(.{4})(.{12})/, '$1-$2-$3-$4-$5');
  const b64url = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

  async function verifyOffline(code, direction) {
    const bundle = await store('bundles', 'readonly', (s) => s.get(ev));
    if (!bundle) return { ok: false, reason: 'no offline bundle' };
    const bytes = base32(code);
    if (!bytes || bytes.length !== 122 || bytes[0] !== 1) return { ok: false, reason: 'invalid_code' };
    const key = bundle.keys.find((k) => k.key_id === bytes[1] && k.status !== 'retired');
    if (!key) return { ok: false, reason: 'invalid_code' };
    const pub = await crypto.subtle.importKey('raw', b64url(key.public_key), { name: 'Ed25519' }, false, ['verify']);
    const good = await crypto.subtle.verify({ name: 'Ed25519' }, pub, bytes.slice(58), bytes.slice(0, 58));
    if (!good) return { ok: false, reason: 'invalid_code' };
    const eventId = uuid(bytes.slice(2, 18));
    const ticketId = uuid(bytes.slice(18, 34));
    const typeId = uuid(bytes.slice(34, 50));
    const view = new DataView(bytes.buffer);
    const from = view.getUint32(50), until = view.getUint32(54);
    const now = Date.now() / 1000;
    if (eventId !== bundle.event_id) return { ok: false, reason: 'wrong_event' };
    if (bundle.revoked_ticket_ids.includes(ticketId)) return { ok: false, reason: 'ticket_void' };
    // A door device's clock may be some minutes off the server's that wrote the window.
    const skew = 600;
    if (now + skew < from || now - skew > until) return { ok: false, reason: 'not_valid_now' };
    // This device's own scans decide inside or not (another door's are learned at sync).
    const mine = (await pendingScans()).filter((s) => s.ticket_id === ticketId).sort((a, b) => a.scanned_at.localeCompare(b.scanned_at));
    const inside = mine.length > 0 && mine[mine.length - 1].direction === 'entry';
    if (direction === 'entry' && inside) return { ok: false, reason: 'already_inside' };
    if (direction === 'exit' && !inside) return { ok: false, reason: 'not_inside' };
    const type = bundle.ticket_types.find((t) => t.ticket_type_id === typeId);
    return { ok: true, ticketId, type: type ? type.name : '' };
  }

  // --- The answer.
  function answer(ok, name, detail) {
    const a = $('answer');
    a.hidden = false;
    a.className = `answer ${ok ? 'ok' : 'no'}`;
    $('answer-head').textContent = ok ? d.tOk : d.tNo;
    $('answer-name').textContent = name || '';
    $('answer-detail').textContent = detail || '';
  }
  const direction = () => document.querySelector('input[name=direction]:checked').value;

  async function check(code) {
    code = code.trim();
    if (!code) return;
    const body = { code, direction: direction(), gate: $('gate').value, device_id: device, event_id: ev };
    let res;
    try {
      res = await fetch('/checkin', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': d.token },
        body: JSON.stringify(body),
      });
    } catch {
      return checkOffline(code);
    }
    const data = await res.json().catch(() => ({}));
    if (res.ok) {
      const seat = data.seat_number ? ` · ${d.tSeat} ${data.seat_number}` : '';
      answer(true, data.guest_name || data.holder_name, `${data.ticket_type_name || ''}${seat} · ${data.direction}`);
    } else {
      answer(false, '', data.detail || res.statusText);
    }
  }

  async function checkOffline(code) {
    const v = await verifyOffline(code, direction());
    if (!v.ok) { answer(false, '', `${v.reason} (${d.tOffline})`); return; }
    const scan = {
      scan_id: crypto.randomUUID(), code, direction: direction(), gate: $('gate').value,
      scanned_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), event_id: ev, ticket_id: v.ticketId,
    };
    await store('scans', 'readwrite', (s) => s.put(scan));
    answer(true, v.type, `${d.tOffline} · ${scan.direction}`);
    await showPending();
  }

  async function showPending() {
    $('pending').textContent = `${d.tPending}: ${(await pendingScans()).length}`;
    $('net').textContent = navigator.onLine ? d.tOnline : d.tOffline;
  }

  async function sync() {
    const scans = await pendingScans();
    if (!scans.length) return showPending();
    const body = {
      device_id: device,
      scans: scans.map(({ scan_id, code, direction, gate, scanned_at }) => ({ scan_id, code, direction, gate, scanned_at })),
    };
    try {
      const res = await fetch('/checkin/sync', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': d.token },
        body: JSON.stringify(body),
      });
      if (!res.ok) return showPending();
      const out = await res.json();
      await store('scans', 'readwrite', (s) => { for (const r of out.results) s.delete(r.scan_id); return null; });
      $('bundle').textContent = `${d.tSynced}: ${out.results.length} (${out.conflicts} ✗)`;
    } catch { /* still offline */ }
    await showPending();
  }

  async function loadBundle() {
    try {
      const res = await fetch(`/events/${ev}/checkin/offline-bundle`);
      if (!res.ok) return;
      const b = await res.json();
      await store('bundles', 'readwrite', (s) => s.put(b));
      $('bundle').textContent = `${d.tReady} (${b.keys.length} · ${b.revoked_ticket_ids.length})`;
      root.dataset.bundle = 'ready';
    } catch { /* offline: the stored one stays */ }
  }

  // --- The camera.
  async function camera() {
    const video = $('video');
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const detector = 'BarcodeDetector' in window ? new BarcodeDetector({ formats: ['qr_code'] }) : null;
    const canvas = document.createElement('canvas');
    let last = '';
    const frame = async () => {
      if (video.hidden) return;
      let text = null;
      if (detector) {
        const codes = await detector.detect(video).catch(() => []);
        text = codes.length ? codes[0].rawValue : null;
      } else if (typeof jsQR === 'function' && video.videoWidth) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        const g = canvas.getContext('2d');
        g.drawImage(video, 0, 0);
        const img = g.getImageData(0, 0, canvas.width, canvas.height);
        const found = jsQR(img.data, img.width, img.height);
        text = found ? found.data : null;
      }
      if (text && text !== last) { last = text; await check(text); setTimeout(() => { last = ''; }, 3000); }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  $('manual').addEventListener('submit', async (e) => {
    e.preventDefault();
    await check($('code').value);
    $('code').value = '';
    $('code').focus();
  });
  $('camera').addEventListener('click', () => camera().catch((e) => answer(false, '', String(e))));
  $('sync').addEventListener('click', sync);
  window.addEventListener('online', sync);
  window.addEventListener('offline', showPending);
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/door-sw.js', { scope: '/door' }).catch(() => {});
  loadBundle().then(showPending).then(sync);
  window.tesseraDoor = { check, sync, pendingScans, loadBundle };
})();

// The buying page: the waiting room (polling when the server says), the seat map or a general
// admission quantity, the hold's countdown, the wallet and the payment — all through Tessera's
// JSON API, signed in by the page's session cookie and its X-CSRF-Token.
(() => {
  const root = document.getElementById('buy');
  if (!root) return;
  const d = root.dataset;
  const ev = d.event;
  const $ = (id) => document.getElementById(id);
  let queueToken = null;
  let hold = null;
  let selected = new Set();
  let ticking = null;

  async function api(method, path, body, extra = {}) {
    const headers = { 'x-csrf-token': d.token, ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (!res.ok) throw Object.assign(new Error((data && data.detail) || res.statusText), { status: res.status, data });
    return data;
  }
  function problem(e) { $('problem').hidden = false; $('problem').textContent = e.message || String(e); }
  function clearProblem() { $('problem').hidden = true; }
  function show(id) { for (const s of ['queue', 'pick', 'pay', 'done']) $(s).hidden = s !== id; }

  async function waitInLine() {
    show('queue');
    let v = await api('POST', `/events/${ev}/queue`, {});
    queueToken = v.queue_token;
    const first = Math.max(v.ahead, 1);
    while (v.status === 'waiting') {
      $('queue-position').textContent = `${d.tAhead}: ${v.ahead} · ${d.tWait}: ${v.wait_time} ${d.tSeconds}`;
      $('queue-bar').value = Math.round(100 * (1 - v.ahead / first));
      await new Promise((r) => setTimeout(r, v.poll_after_ms || 1000));
      v = await api('GET', `/queue/status?token=${encodeURIComponent(queueToken)}`);
    }
    if (v.status !== 'admitted') throw new Error(v.status);
  }

  async function seatMap() {
    const map = $('seatmap');
    map.textContent = '';
    let cursor = null;
    do {
      const page = await api('GET', `/events/${ev}/seats?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const s of page.items) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = `seat ${s.status}`;
        b.textContent = s.seat_number;
        b.dataset.seat = s.seat_number;
        b.setAttribute('aria-label', `${s.row ? s.row + ' ' : ''}${s.seat_number} (${s.status})`);
        b.disabled = s.status !== 'available';
        b.setAttribute('aria-pressed', 'false');
        b.addEventListener('click', () => {
          const n = s.seat_number;
          if (selected.has(n)) selected.delete(n); else selected.add(n);
          b.setAttribute('aria-pressed', String(selected.has(n)));
          b.classList.toggle('chosen', selected.has(n));
          $('selection').textContent = `${d.tSelected}: ${[...selected].sort((a, b) => a - b).join(', ')}`;
        });
        map.appendChild(b);
      }
      cursor = page.next_cursor;
    } while (cursor);
  }

  async function reserve(body) {
    clearProblem();
    try {
      const headers = queueToken ? { 'x-queue-token': queueToken } : {};
      hold = await api('POST', '/reservations', { event_id: ev, ...body }, headers);
      await paying();
    } catch (e) {
      problem(e);
      if (e.data && e.data.available_nearby && e.data.available_nearby.length) {
        problem(new Error(`${e.message} → ${e.data.available_nearby.join(', ')}`));
      }
      if (d.seated === 'true') { selected = new Set(); await seatMap(); }
    }
  }

  async function balance() {
    const b = await api('GET', '/balance');
    $('balance').textContent = b.balance;
  }

  async function paying() {
    show('pay');
    $('hold-summary').textContent = hold.seat_numbers.length
      ? `${hold.seat_numbers.join(', ')} · ${hold.amount}` : `× ${hold.quantity} · ${hold.amount}`;
    const deadline = new Date(hold.payment_deadline).getTime();
    clearInterval(ticking);
    const tick = () => {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      $('countdown').textContent = left > 0
        ? `${d.tLeft}: ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}` : d.tExpired;
      $('pay-go').disabled = left === 0;
      if (left === 0) clearInterval(ticking);
    };
    tick();
    ticking = setInterval(tick, 1000);
    await balance();
  }

  $('top-up-go') && $('top-up-go').addEventListener('click', async () => {
    clearProblem();
    try {
      await api('POST', '/balance', { amount: $('top-up').value }, { 'idempotency-key': crypto.randomUUID() });
      await balance();
    } catch (e) { problem(e); }
  });
  $('pay-go') && $('pay-go').addEventListener('click', async () => {
    clearProblem();
    try {
      await api('POST', '/payments', { reservation_id: hold.reservation_id }, { 'idempotency-key': `pay-${hold.reservation_id}` });
      clearInterval(ticking);
      show('done');
      $('done-text').textContent = d.tPaid;
    } catch (e) { problem(e); await balance().catch(() => {}); }
  });
  $('release') && $('release').addEventListener('click', async () => {
    clearProblem();
    try { await api('DELETE', `/reservations/${hold.reservation_id}`); } catch (e) { problem(e); }
    clearInterval(ticking);
    hold = null;
    await start(false);
  });
  $('hold-selected') && $('hold-selected').addEventListener('click', () => reserve({ seat_numbers: [...selected] }));
  $('hold-best') && $('hold-best').addEventListener('click', () => {
    const near = selected.size ? Math.min(...selected) : undefined;
    reserve({ quantity: Number($('best-n').value), near_seat: near });
  });
  $('hold-ga') && $('hold-ga').addEventListener('click', () => reserve({ ticket_type_id: $('tt').value, quantity: Number($('qty').value) }));

  async function start(queue) {
    try {
      if (queue && d.queue === 'true') await waitInLine();
      show('pick');
      if (d.seated === 'true') await seatMap();
    } catch (e) { problem(e); }
  }
  start(true);
})();

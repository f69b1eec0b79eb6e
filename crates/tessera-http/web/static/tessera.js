// Tessera's pages work without scripts; this adds what scripts can: times shown in the
// reader's own time zone (also in what htmx brings in later, such as chat messages).
function localTimes(root) {
  for (const t of root.querySelectorAll('time[datetime]')) {
    if (t.dataset.local) continue;
    const d = new Date(t.getAttribute('datetime'));
    if (!Number.isNaN(d.getTime())) {
      t.title = t.textContent;
      t.textContent = d.toLocaleString(document.documentElement.lang, {
        dateStyle: 'medium', timeStyle: 'short',
      });
      t.dataset.local = '1';
    }
  }
}
document.addEventListener('DOMContentLoaded', () => localTimes(document));
document.addEventListener('htmx:load', (e) => localTimes(e.detail.elt.parentNode || e.detail.elt));

// The event chat: keep the newest message in view as they arrive.
document.addEventListener('htmx:oobAfterSwap', (e) => {
  const log = document.getElementById('chat-log');
  if (log && e.detail && e.detail.target === log) log.scrollTop = log.scrollHeight;
});
document.addEventListener('DOMContentLoaded', () => {
  const log = document.getElementById('chat-log');
  if (log) log.scrollTop = log.scrollHeight;
});

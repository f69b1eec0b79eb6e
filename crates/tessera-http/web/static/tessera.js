// Tessera's pages work without scripts; this adds what scripts can: times shown in the
// reader's own time zone.
document.addEventListener('DOMContentLoaded', () => {
  for (const t of document.querySelectorAll('time[datetime]')) {
    const d = new Date(t.getAttribute('datetime'));
    if (!Number.isNaN(d.getTime())) {
      t.title = t.textContent;
      t.textContent = d.toLocaleString(document.documentElement.lang, {
        dateStyle: 'medium', timeStyle: 'short',
      });
    }
  }
});

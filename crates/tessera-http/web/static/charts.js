// Draws each <canvas data-chart="{type, labels, series: [{label, data}]}"> with Chart.js. The
// same numbers are in a table beside each chart, so nothing depends on this script.
(() => {
  const colours = ['#0b57d0', '#0a6b2c', '#a4161a', '#7a4b00', '#5b2a86', '#006a75'];
  function draw(canvas) {
    if (typeof Chart === 'undefined' || canvas.dataset.drawn) return;
    let spec;
    try { spec = JSON.parse(canvas.dataset.chart); } catch { return; }
    canvas.dataset.drawn = '1';
    new Chart(canvas, {
      type: spec.type || 'bar',
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label, data: s.data,
          backgroundColor: colours[i % colours.length], borderColor: colours[i % colours.length],
        })),
      },
      options: { responsive: true, animation: false, scales: { y: { beginAtZero: true } } },
    });
  }
  const all = () => document.querySelectorAll('canvas[data-chart]').forEach(draw);
  document.addEventListener('DOMContentLoaded', all);
  document.addEventListener('htmx:afterSettle', all);
})();

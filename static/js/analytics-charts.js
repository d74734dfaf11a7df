// Draws every <canvas data-chart="ID">, where ID names a json_script element holding
// {"type": "bar", "stacked": false, "labels": [...], "datasets": [{"label": ..., "data": [...]}]}.
// A dataset may name its "stack" (bars side by side, each stacked) and its "colour" (a palette
// index, so that one tier keeps its colour in every stack). A value may be null (no bar, no point)
// or a [low, high] pair (a floating bar, e.g. a confidence interval); "skipNull" centres the bars
// left. "type": "line" draws lines instead.
// The data table beside each chart carries the same figures for screen readers and for reading.
(function () {
  "use strict";
  var palette = ["#1f5fa8", "#d9822b", "#2e8b57", "#a83279", "#6b6b6b", "#c9a227", "#4a90c2", "#8c564b"];
  function value(item) {
    if (item === null || item === undefined) { return null; }
    return Array.isArray(item) ? item.map(Number) : Number(item);
  }
  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var datasets = spec.datasets.map(function (dataset, index) {
      var colour = palette[(dataset.colour !== undefined ? dataset.colour : index) % palette.length];
      return {
        label: dataset.label,
        stack: dataset.stack,
        // A line has no point where its data says null (a cohort none of whose partners is that old).
        data: dataset.data.map(value),
        fill: false,
        backgroundColor: colour,
        borderColor: colour,
        skipNull: !!spec.skipNull
      };
    });
    new Chart(canvas, {
      type: spec.type || "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: {
          x: { stacked: !!spec.stacked, ticks: { autoSkip: true, maxRotation: 45 } },
          y: { stacked: !!spec.stacked, beginAtZero: true, ticks: { precision: 0 } }
        }
      }
    });
    canvas.dataset.rendered = "true";
  }
  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();

// Draws the report's charts from their data (script.cx-figure after each empty .cx-plot box): the charts on the
// first screen at once, then the others one at a time, those scrolled into view first, so the reader sees text
// and the first charts before Plotly has drawn everything below. Printing draws whatever is still waiting.
(function () {
  if (!window.Plotly) return;
  const waiting = [...document.querySelectorAll('.cx-chart > script.cx-figure')];

  function draw(figureScript) {
    waiting.splice(waiting.indexOf(figureScript), 1);
    const figure = JSON.parse(figureScript.textContent);
    Plotly.newPlot(figureScript.previousElementSibling, figure.data, figure.layout, figure.config);
  }

  function onScreen(figureScript) {
    const box = figureScript.parentElement.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  function drawNext() {
    if (!waiting.length) return;
    draw(waiting.find(onScreen) || waiting[0]);
    setTimeout(drawNext, 0);  // let the browser paint and respond between two charts
  }

  waiting.filter(onScreen).forEach(draw);
  window.addEventListener('beforeprint', () => [...waiting].forEach(draw));
  setTimeout(drawNext, 0);
})();

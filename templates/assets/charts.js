// Progressive enhancement: each static chart becomes an interactive Vega chart (tooltips,
// formatted numbers). Without JavaScript, or if anything fails, the static SVG stays.
(function () {
  "use strict";
  if (typeof window.vegaEmbed !== "function") {
    return;
  }
  document.querySelectorAll("figure.chart").forEach(function (figure) {
    var specNode = figure.querySelector("script.chart-spec");
    var view = figure.querySelector(".chart-view");
    if (!specNode || !view) {
      return;
    }
    var spec = JSON.parse(specNode.textContent);
    var target = document.createElement("div");
    target.className = "chart-interactive";
    view.appendChild(target);
    window.vegaEmbed(target, spec, { actions: false, renderer: "svg" }).then(function () {
      var staticSvg = view.querySelector(":scope > svg");
      if (staticSvg) {
        staticSvg.remove();
      }
    }).catch(function () {
      target.remove();
    });
  });
}());

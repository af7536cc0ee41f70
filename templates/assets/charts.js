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
    // ast: Vega interprets expressions instead of compiling them (vega-embed then uses the
    // bundle's expressionInterpreter): the page's Content-Security-Policy forbids eval.
    window.vegaEmbed(target, spec, { actions: false, renderer: "svg", ast: true }).then(function () {
      var staticSvg = view.querySelector(":scope > svg");
      if (staticSvg) {
        staticSvg.remove();
      }
    }).catch(function () {
      target.remove();
    });
  });
}());

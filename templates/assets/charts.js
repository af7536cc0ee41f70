// Progressive enhancement: each static chart becomes an interactive Vega chart (tooltips,
// formatted numbers). Without JavaScript, or if anything fails, the static drawings stay.
// The page carries the chart's spec for each layout (statpress/charts.py, page_spec): the wide
// one is drawn in a container at least `wide_from` px wide, the narrow (phone) one below, so the
// text never shrinks under 11 px. The chart then fills its container's width.
(function () {
  "use strict";
  if (typeof window.vegaEmbed !== "function") {
    return;
  }

  function layoutFor(payload, view) {
    return view.clientWidth >= payload.wide_from ? "wide" : "narrow";
  }

  function specFor(payload, layout) {
    var spec = JSON.parse(JSON.stringify(payload[layout]));
    spec.datasets = payload.datasets;
    // the room kept for a wider font (charts.py, FONT_SLACK) is not needed: the browser measures its own
    spec.padding = 5;
    if (!spec.facet) {
      spec.width = "container";
      spec.autosize = { type: "fit-x", contains: "padding", resize: true };
    }
    return spec;
  }

  // Vega-Lite fits only a single view to its container. A chart with panels is drawn once, then
  // again with its panels widened or narrowed by what the drawing missed or overshot: the
  // browser's font may be wider or narrower than the one the static drawing was laid out with.
  function embed(target, view, spec) {
    // ast: Vega interprets expressions instead of compiling them (vega-embed then uses the
    // bundle's expressionInterpreter): the page's Content-Security-Policy forbids eval.
    var options = { actions: false, renderer: "svg", ast: true };
    return window.vegaEmbed(target, spec, options).then(function (result) {
      var svg = target.querySelector("svg");
      var room = view.clientWidth;
      var drawn = svg ? parseFloat(svg.getAttribute("width")) : room;
      if (!spec.facet || !room || !drawn || Math.abs(room - drawn) < 2) {
        return result;
      }
      spec.spec.width = Math.max(60, spec.spec.width + Math.floor((room - drawn) / (spec.columns || 1)));
      result.finalize();
      return window.vegaEmbed(target, spec, options);
    });
  }

  function draw(figure, view, payload) {
    var layout = layoutFor(payload, view);
    var target = document.createElement("div");
    target.className = "chart-interactive";
    view.appendChild(target);
    return embed(target, view, specFor(payload, layout)).then(function (result) {
      view.querySelectorAll(".chart-interactive").forEach(function (old) {
        if (old !== target) {
          old.remove();
        }
      });
      figure.classList.add("interactive");
      target.dataset.layout = layout;
      return result;
    }).catch(function () {
      target.remove();
    });
  }

  document.querySelectorAll("figure.chart").forEach(function (figure) {
    var specNode = figure.querySelector("script.chart-spec");
    var view = figure.querySelector(".chart-view");
    if (!specNode || !view) {
      return;
    }
    var payload = JSON.parse(specNode.textContent);
    var drawing = draw(figure, view, payload);
    if (typeof window.ResizeObserver === "function") {
      // a phone turned sideways, a window made narrower: draw the layout that fits now
      new window.ResizeObserver(function () {
        var current = view.querySelector(".chart-interactive");
        if (view.clientWidth === 0) {
          return;  // hidden while the table is shown
        }
        if (current && current.dataset.layout && current.dataset.layout !== layoutFor(payload, view)) {
          drawing = drawing.then(function () {
            return draw(figure, view, payload);
          });
        }
      }).observe(view);
    }
  });
}());

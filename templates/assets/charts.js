// Interactive charts on demand. The static drawing is the chart: most readers only look at it, and
// on a phone the Vega runtime (assets/vega.js, about 540 KB) would cost more than the whole page.
// It is loaded only when a reader asks for interaction: the pointer enters a chart, a finger
// touches it, or the keyboard reaches its "Explore the chart" button. Then the chart's Vega specs
// (charts/<id>.json, compiled from Vega-Lite at build time, statpress/charts.py page_spec) and the
// runtime are fetched, and the interactive chart is laid over the static drawing, in exactly its
// box: nothing on the page moves (no layout shift). The drawing stays in place, invisible, so the
// stylesheet keeps choosing the layout (phone or desktop) and the box, and print keeps it.
// If anything fails (no network, a file:// page that cannot fetch), the static drawing stays.
(function () {
  "use strict";
  var here = document.currentScript && document.currentScript.src;
  // a page opened from a file cannot fetch the specs: its static drawings are the whole chart
  if (!here || window.location.protocol === "file:" || typeof window.fetch !== "function" ||
      typeof window.ResizeObserver !== "function") {
    return;
  }
  var runtimeUrl = new URL("vega.js", here).href;
  var runtime = null;
  var tooltip = null;  // one handler, and so one tooltip element, for every chart of the page

  function loadRuntime() {
    if (!runtime) {
      runtime = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = runtimeUrl;
        script.onload = function () { resolve(window.vega); };
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    return runtime;
  }

  function loadSpec(figure) {
    return fetch(figure.dataset.spec).then(function (response) {
      if (!response.ok) {
        throw new Error(figure.dataset.spec + ": " + response.status);
      }
      return response.json();
    });
  }

  // The static drawing the stylesheet shows now, or null (the table is shown instead).
  function shownDrawing(view) {
    var drawings = view.querySelectorAll("img.chart-static");
    for (var i = 0; i < drawings.length; i++) {
      if (drawings[i].offsetWidth > 0) {
        return drawings[i];
      }
    }
    return null;
  }

  function layoutOf(drawing) {
    return drawing.classList.contains("chart-wide") ? "wide" : "narrow";
  }

  function specFor(payload, layout) {
    var spec = JSON.parse(JSON.stringify(payload[layout]));
    spec.data.forEach(function (data) {
      if (payload.datasets[data.name]) {
        data.values = payload.datasets[data.name];
      }
    });
    return spec;
  }

  function svgSize(target) {
    var svg = target.querySelector("svg");
    return svg ? { width: parseFloat(svg.getAttribute("width")), height: parseFloat(svg.getAttribute("height")) } : null;
  }

  function hasSignal(spec, name) {
    return (spec.signals || []).some(function (s) { return s.name === name; });
  }

  // A single view fills the box by itself (autosize "fit"). A chart with panels is drawn, then its
  // panels widened or narrowed and its bars thickened or thinned until the drawing fills the box;
  // the browser's font may be wider or narrower than the one the static drawing was laid out with.
  function fit(view, spec, target, box) {
    if (!hasSignal(spec, "child_width")) {
      return Promise.resolve(view);
    }
    var columns = (spec.layout && spec.layout.columns) || 1;
    var step = hasSignal(spec, "y_step") ? "y_step" : null;
    var before = null;  // the bar step and height of the previous round
    function adjust(round) {
      var size = svgSize(target);
      if (!size || round > 4 || (Math.abs(size.width - box.width) < 1 && Math.abs(size.height - box.height) < 1)) {
        return Promise.resolve(view);
      }
      view.signal("child_width", Math.max(60, view.signal("child_width") + (box.width - size.width) / columns));
      if (step) {
        // the height is a straight line in the bar step: a first guess in proportion, then the
        // secant through the last two rounds
        var now = view.signal(step);
        var next = before && before.height !== size.height
          ? now + (box.height - size.height) * (now - before.step) / (size.height - before.height)
          : now * box.height / size.height;
        before = { step: now, height: size.height };
        view.signal(step, Math.max(4, next));
      }
      return view.runAsync().then(function () { return adjust(round + 1); });
    }
    return adjust(0);
  }

  // Whatever is left after fitting (a fraction of a pixel) is absorbed by scaling the drawing into
  // the box, so the interactive chart never overflows it.
  function clampInto(target, box) {
    var svg = target.querySelector("svg");
    var size = svgSize(target);
    if (!svg || !size) {
      return;
    }
    svg.setAttribute("viewBox", "0 0 " + size.width + " " + size.height);
    svg.setAttribute("width", box.width);
    svg.setAttribute("height", box.height);
    svg.setAttribute("preserveAspectRatio", "xMinYMin meet");
  }

  function draw(vega, figure, view, payload) {
    var drawing = shownDrawing(view);
    if (!drawing) {
      return Promise.resolve();  // the table is shown: drawn when the chart shows again
    }
    var layout = layoutOf(drawing);
    var box = { left: drawing.offsetLeft, top: drawing.offsetTop, width: drawing.offsetWidth, height: drawing.offsetHeight };
    var old = view.querySelector(".chart-interactive");
    if (old && old.dataset.layout === layout && old.dataset.box === box.width + "x" + box.height) {
      return Promise.resolve();
    }
    var target = document.createElement("div");
    target.className = "chart-interactive vega-embed";
    target.dataset.layout = layout;
    target.dataset.box = box.width + "x" + box.height;
    target.style.cssText = "position:absolute;overflow:hidden;visibility:hidden;left:" + box.left + "px;top:" + box.top +
      "px;width:" + box.width + "px;height:" + box.height + "px";
    view.appendChild(target);
    var spec = specFor(payload, layout);
    // ast + the interpreter: expressions are interpreted, never compiled with eval, which the
    // page's Content-Security-Policy forbids
    var chart = new vega.View(vega.parse(spec, null, { ast: true }), {
      expr: vega.expressionInterpreter, renderer: "svg", container: target, hover: true,
      tooltip: (tooltip = tooltip || new vega.TooltipHandler()).call
    });
    return chart.runAsync().then(function () {
      return fit(chart, spec, target, box);
    }).then(function () {
      clampInto(target, box);
      target.style.visibility = "";
      figure.classList.add("interactive");
      if (old) {
        old.remove();
        if (old.chart) {
          old.chart.finalize();
        }
      }
      target.chart = chart;
    }).catch(function () {
      chart.finalize();
      target.remove();
    });
  }

  function enhance(figure) {
    var view = figure.querySelector(".chart-view");
    var button = figure.querySelector(".chart-explore");
    if (!view || !figure.dataset.spec) {
      return;
    }
    var started = null;
    function start() {
      if (started) {
        return started;
      }
      started = Promise.all([loadRuntime(), loadSpec(figure)]).then(function (loaded) {
        var vega = loaded[0], payload = loaded[1];
        var drawing = Promise.resolve();
        function redraw() {
          drawing = drawing.then(function () { return draw(vega, figure, view, payload); });
          return drawing;
        }
        // a phone turned sideways, a window made narrower, the table closed: draw what fits now
        new window.ResizeObserver(redraw).observe(view);
        return redraw();
      }).then(function () {
        if (button && document.activeElement !== button) {
          button.hidden = true;  // a focused button stays: hiding it would lose the reader's place
        }
      }).catch(function () {
        started = null;  // a later attempt may succeed; meanwhile the static drawing stays
      });
      return started;
    }
    view.addEventListener("pointerenter", start);
    view.addEventListener("touchstart", start, { passive: true });
    if (button) {
      button.hidden = false;
      button.addEventListener("focus", start);
      button.addEventListener("click", function () {
        start().then(function () {
          var target = view.querySelector(".chart-interactive");
          if (target) {
            target.tabIndex = -1;
            target.focus();
            button.hidden = true;
          }
        });
      });
    }
  }

  document.querySelectorAll("figure.chart").forEach(enhance);
}());

// statpress live preview (served by `build.py serve` only, never written to site/).
// Polls the server for the build's version: a new successful build reloads the page, a failed
// one shows its error over the page until the file is fixed.
(function () {
  "use strict";
  var script = document.currentScript;
  var served = new URL(script.src).searchParams.get("v");
  var endpoint = new URL("/__statpress/version", script.src).href;
  var OVERLAY = "statpress-error-overlay";

  function showError(message) {
    var box = document.getElementById(OVERLAY);
    if (!box) {
      box = document.createElement("div");
      box.id = OVERLAY;
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;padding:2rem;" +
        "background:rgba(255,255,255,0.97);color:#8b0000;font:16px/1.5 system-ui,sans-serif";
      var title = document.createElement("h2");
      title.textContent = "The build failed";
      var pre = document.createElement("pre");
      pre.className = "statpress-error";
      pre.style.cssText = "white-space:pre-wrap;font:14px/1.5 ui-monospace,monospace;color:#000;" +
        "border-left:4px solid #8b0000;padding:0.5rem 1rem;background:#fff4f4";
      var hint = document.createElement("p");
      hint.textContent = "Fix the file and save it: the page reloads when the build succeeds.";
      box.appendChild(title);
      box.appendChild(pre);
      box.appendChild(hint);
      document.body.appendChild(box);
    }
    box.querySelector("pre").textContent = message;
  }

  function poll() {
    fetch(endpoint, { cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (state) {
        if (state.error) {
          showError(state.error);
        } else if (String(state.version) !== served) {
          window.location.reload();
          return;
        } else if (document.getElementById(OVERLAY)) {
          document.getElementById(OVERLAY).remove();
        }
        setTimeout(poll, 250);
      })
      .catch(function () { setTimeout(poll, 1000); });  // the server restarts: try again
  }
  poll();
})();

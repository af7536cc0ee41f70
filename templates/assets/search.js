// The search page: Pagefind's default interface over the index in the site's own pagefind/
// folder (nothing is fetched from another host). A query in the address (?q=…, from the search
// box in the header) is searched at once.
(function () {
  "use strict";
  var element = document.getElementById("search");
  if (!element || typeof PagefindUI === "undefined") {
    return;
  }
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: element.getAttribute("data-bundle"),
    // result links relative to the site's root, wherever the site is served
    baseUrl: new URL("../", window.location.href).pathname,
    showImages: false,
    showSubResults: true,
    resetStyles: false
  });
  var query = new URLSearchParams(window.location.search).get("q");
  if (query) {
    ui.triggerSearch(query);
  }
}());

// The search page: Pagefind's default interface over the index in the site's own pagefind/
// folder (nothing is fetched from another host). The index comes in parts (statpress/search.py):
// the first lies in pagefind/, the others, which parts.js lists, are merged into it. A query in
// the address (?q=…, from the search box in the header) is searched at once.
(function () {
  "use strict";
  var element = document.getElementById("search");
  if (!element || typeof PagefindUI === "undefined") {
    return;
  }
  // absolute paths: Pagefind fetches the merged parts from its worker, which would read a
  // relative path from its own folder
  var bundle = new URL(element.getAttribute("data-bundle"), window.location.href).pathname;
  var parts = window.statpressSearchParts || [];
  var ui = new PagefindUI({
    element: "#search",
    bundlePath: bundle,
    mergeIndex: parts.map(function (part) { return { bundlePath: bundle + part }; }),
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

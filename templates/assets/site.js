// With JavaScript the "About the statistics" sections start closed, so the page opens on its
// figures; without it they stay open and nothing is hidden. A section named in the address
// (#about-production) stays open.
(function () {
  "use strict";
  var wanted = window.location.hash.slice(1);
  document.querySelectorAll("details.about-section").forEach(function (section) {
    if (section.id !== wanted) {
      section.open = false;
    }
  });
}());

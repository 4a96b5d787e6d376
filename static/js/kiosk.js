// Kiosk behaviour, as a static file (the CSP allows no inline script):
// - Enter in the badge field moves to the PIN (scanners type the badge and press Enter);
// - after an htmx swap, the field marked autofocus gets the focus again (scan field);
// - the idle lock: after data-idle seconds without input the browser returns to the
//   badge form (the server refuses the expired session anyway).
(function () {
  "use strict";

  function focusAutofocus(root) {
    var field = (root || document).querySelector("[autofocus]");
    if (field) {
      field.focus();
      if (field.select) { field.select(); }
    }
  }

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.dataset || !field.dataset.enterNext) { return; }
    var next = document.getElementById(field.dataset.enterNext);
    if (next && !next.value) {
      event.preventDefault();
      next.focus();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) { focusAutofocus(event.detail.target.parentNode || document); });

  document.addEventListener("DOMContentLoaded", function () {
    focusAutofocus(document);
    var body = document.body;
    // Two seconds past the server's limit (it counts whole seconds), so that the badge
    // form is what the server answers when the browser goes back.
    var idle = parseInt(body.dataset.idle || "0", 10) + 2;
    var badgeUrl = body.dataset.badgeUrl;
    if (idle <= 2 || !badgeUrl) { return; }
    var counter = document.getElementById("kiosk-idle");
    var last = Date.now();
    function reset() { last = Date.now(); }
    ["keydown", "pointerdown", "touchstart", "input"].forEach(function (name) {
      document.addEventListener(name, reset, { passive: true });
    });
    document.addEventListener("htmx:afterRequest", reset);
    setInterval(function () {
      var left = idle - Math.floor((Date.now() - last) / 1000);
      if (left <= 0) {
        window.location.assign(badgeUrl);
        return;
      }
      if (counter) {
        counter.textContent = left <= 60 ? left + " s" : "";
      }
    }, 1000);
  });
}());

// The lotto's label prints from the kiosk screen without leaving it (issue 14): a link
// with data-stampa="<label address>" loads the label into one hidden frame and prints
// the frame; the screen, its form and its idle lock stay as they were. Without this
// script the link still opens the label page, which has a Stampa button of its own.
//
// Before printing, the document receives "asigest:stampa" with the frame's window in
// event.detail.finestra: what a test listens to (from WebDriver, not an inline script)
// to count the prints. In Chromium started with --kiosk-printing the print goes to the
// station's default printer without a dialog (docs/deploy.md).
(function () {
  "use strict";

  var FRAME_ID = "kiosk-stampa";

  function cornice() {
    var frame = document.getElementById(FRAME_ID);
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = FRAME_ID;
      frame.className = "kiosk-stampa";
      frame.title = "etichetta";
      frame.tabIndex = -1;
      frame.setAttribute("aria-hidden", "true");
      document.body.appendChild(frame);
    }
    return frame;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-stampa]") : null;
    if (!link) { return; }
    event.preventDefault();
    var frame = cornice();
    var attivo = document.activeElement;
    frame.onload = function () {
      frame.onload = null;
      var finestra = frame.contentWindow;
      var etichetta = null;
      try { etichetta = finestra.document.querySelector(".etichetta"); } catch (e) { etichetta = null; }
      if (!etichetta) {
        // Not the label: the kiosk session has ended (the server answered with the badge
        // form, which refuses to be framed). Never print that: the screen goes there.
        window.location.assign(document.body.dataset.badgeUrl || window.location.href);
        return;
      }
      document.dispatchEvent(new CustomEvent("asigest:stampa", { detail: { finestra: finestra, indirizzo: link.dataset.stampa } }));
      finestra.focus();
      finestra.print();
      link.classList.add("kiosk-stampata");
      // The scanner types into whatever has the focus: give it back to the screen's
      // field (the one marked autofocus), or to what had it before the tap.
      window.focus();
      var campo = document.querySelector("#pannello [autofocus]") || attivo;
      if (campo && campo !== document.body && campo.focus) { campo.focus(); }
    };
    frame.src = link.dataset.stampa;
  });
}());

// Kiosk behaviour, as a static file (the CSP allows no inline script):
// - Enter in the badge field moves to the PIN (scanners type the badge and press Enter);
// - after an htmx swap, the field marked autofocus gets the focus again (scan field);
// - the idle lock: after data-idle seconds without input the browser returns to the
//   badge form (the server refuses the expired session anyway);
// - the close form: −/+ steppers, good pieces following input − scrap (still editable),
//   "Tutto buono" hidden while scrap is entered, the pieces a close would leave
//   unaccounted shown as they are typed. The server decides: a short close is saved
//   only with its explicit confirmation, whatever this script does;
// - the open form's source labels: Enter after a scanned label adds it, not opens;
// - a running stop's duration keeps counting (the server wrote it when the page came).
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

  // The source labels (R14): a scanner ends each label with Enter, which adds the label
  // to the field instead of opening; Enter on a field that ends with a space (nothing
  // new read) opens as usual. Without this script the server splits on spaces anyway.
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.dataset || !field.dataset.etichette) { return; }
    var testo = field.value;
    if (testo.trim() && !/\s$/.test(testo)) {
      event.preventDefault();
      field.value = testo.trim() + " ";
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    focusAutofocus(event.detail.target.parentNode || document);
    aggiornaChiusura(document.querySelector("form.kiosk-chiudi"), null);
  });

  function intero(testo) {
    testo = (testo || "").trim();
    return /^[0-9]{1,9}$/.test(testo) ? parseInt(testo, 10) : null;
  }

  function aggiornaChiusura(form, origine) {
    if (!form) { return; }
    var entrati = parseInt(form.dataset.qtaInput, 10);
    var scarti = form.querySelector("#qta_scarti");
    var buoni = form.querySelector("#qta_output");
    var s = intero(scarti.value);
    if (origine === "qta_scarti" && s !== null && s <= entrati) {
      buoni.value = String(entrati - s);
    }
    var b = intero(buoni.value);
    var tutto = form.querySelector("#tutto-buono");
    if (tutto) { tutto.hidden = s !== null && s > 0; }
    if (origine) {
      // The figures changed: a confirmation asked for the old ones no longer applies.
      ["#conferma-resto", "#errore-resto"].forEach(function (sel) {
        var el = form.querySelector(sel);
        if (el) { el.hidden = true; }
      });
    }
    var resto = form.querySelector("#kiosk-resto");
    if (resto) {
      var n = (s !== null && b !== null) ? entrati - s - b : 0;
      resto.textContent = n > 0 ? (form.dataset.testoResto || "").replace("{n}", String(n)) : "";
    }
  }

  // A tap on a number field selects it: what is typed replaces the figure, nothing to delete.
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.tagName === "INPUT" && field.inputMode === "numeric" && field.closest(".kiosk-form")) {
      setTimeout(function () { if (document.activeElement === field) { field.select(); } }, 0);
    }
  });

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.id === "qta_scarti" || field.id === "qta_output") {
      aggiornaChiusura(field.form, field.id);
    }
  });

  // A reason tapped again is unchosen (a radio button alone cannot be cleared).
  document.addEventListener("pointerdown", function (event) {
    var tile = event.target.closest ? event.target.closest(".kiosk-tile") : null;
    var radio = tile && tile.querySelector("input[type=radio]");
    if (radio) { radio.dataset.eraScelta = radio.checked ? "1" : ""; }
  });
  document.addEventListener("click", function (event) {
    var radio = event.target;
    if (radio.type === "radio" && radio.name === "causale" && radio.dataset.eraScelta === "1") {
      radio.checked = false;
      radio.dataset.eraScelta = "";
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-passo]") : null;
    if (!button) { return; }
    var form = button.form;
    var field = form && form.querySelector("#" + button.dataset.campo);
    if (!field) { return; }
    var massimo = parseInt(form.dataset.qtaInput, 10);
    var valore = (intero(field.value) || 0) + parseInt(button.dataset.passo, 10);
    field.value = String(Math.max(0, Math.min(massimo, valore)));
    aggiornaChiusura(form, field.id);
  });

  // The same words as the server's (web/kiosk durata): "12 min", "1 h 05 min".
  function durate() {
    document.querySelectorAll("[data-fermo-inizio]").forEach(function (el) {
      var inizio = Date.parse(el.dataset.fermoInizio);
      if (isNaN(inizio)) { return; }
      var minuti = Math.max(0, Math.floor((Date.now() - inizio) / 60000));
      var resto = minuti % 60;
      el.textContent = minuti >= 60 ? Math.floor(minuti / 60) + " h " + (resto < 10 ? "0" : "") + resto + " min" : minuti + " min";
    });
  }
  setInterval(durate, 15000);

  document.addEventListener("DOMContentLoaded", function () {
    focusAutofocus(document);
    aggiornaChiusura(document.querySelector("form.kiosk-chiudi"), null);
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

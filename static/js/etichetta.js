// Lot label page: the "Stampa" button prints (no inline script: the CSP forbids it).
document.addEventListener("DOMContentLoaded", function () {
  var button = document.getElementById("stampa");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
});

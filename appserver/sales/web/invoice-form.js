// The invoice form's progressive enhancement: "Add line" and "Remove" work
// in place, and the total follows every change. Without this script the
// same buttons submit the form, which comes back with a row more or less
// and the total recomputed by the server.
(function () {
  "use strict";
  var form = document.querySelector("form.invoice-form");
  if (!form) return;
  var body = form.querySelector("table.lines tbody");
  var count = form.querySelector('input[name="line_count"]');
  var total = form.querySelector("#invoice-total");
  var first = body.querySelector("tr.line");
  if (!first) return;
  var blank = first.cloneNode(true);
  blank.querySelectorAll(".field-error").forEach(function (e) { e.remove(); });
  blank.querySelectorAll(".field.invalid").forEach(function (e) { e.classList.remove("invalid"); });
  blank.querySelectorAll("[aria-invalid]").forEach(function (e) {
    e.removeAttribute("aria-invalid");
    e.removeAttribute("aria-describedby");
  });
  form.querySelectorAll("[data-nojs]").forEach(function (b) { b.style.display = "none"; });

  function renumber() {
    var rows = body.querySelectorAll("tr.line");
    rows.forEach(function (row, i) {
      row.querySelectorAll("[name],[id],[for],[aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (a) {
          var v = el.getAttribute(a);
          if (v) el.setAttribute(a, v.replace(/lines\[\d+\]/, "lines[" + i + "]"));
        });
      });
      row.querySelectorAll("label").forEach(function (l) {
        l.textContent = l.textContent.replace(/line \d+$/, "line " + (i + 1));
      });
      var rm = row.querySelector('button[name="remove"]');
      if (rm) {
        rm.value = String(i);
        rm.setAttribute("aria-label", "Remove line " + (i + 1));
      }
    });
    count.value = String(rows.length);
  }

  function cents(s) {
    s = (s || "").trim();
    if (!/^\d+(\.\d+)?$/.test(s)) return NaN;
    return parseFloat(s);
  }

  function update() {
    var sum = 0;
    body.querySelectorAll("tr.line").forEach(function (row) {
      var sel = row.querySelector("select");
      var inputs = row.querySelectorAll("input");
      if (!sel || !sel.value || inputs.length < 2) return;
      var qty = cents(inputs[0].value);
      var price = inputs[1].value.trim() !== "" ? cents(inputs[1].value) : cents(sel.selectedOptions[0].dataset.price);
      if (isNaN(qty) || isNaN(price)) return;
      sum += Math.round(qty * price * 100);
    });
    total.textContent = (sum / 100).toFixed(2);
  }

  form.addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) return;
    if (b.name === "add") {
      ev.preventDefault();
      if (body.querySelectorAll("tr.line").length >= Number(form.dataset.maxLines || 100)) return;
      var row = blank.cloneNode(true);
      row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      var qty = row.querySelectorAll("input")[0];
      if (qty) qty.value = "1";
      row.querySelector("select").selectedIndex = 0;
      body.appendChild(row);
      renumber();
      update();
      row.querySelector("select").focus();
    } else if (b.name === "remove") {
      ev.preventDefault();
      b.closest("tr").remove();
      renumber();
      update();
    }
  });
  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();
})();

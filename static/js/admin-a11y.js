// Names for the admin's controls that Django's own widgets leave without one, so that a screen
// reader announces each (and axe-core finds no unnamed field):
// - a tabular inline's fields are labelled only by their column heading: each gets
//   "<heading>, row <n>" as its name;
// - an autocomplete (Select2) box is named by its selection alone, empty when nothing is chosen:
//   it is labelled by its field's label as well;
// - the filter icon of a two-list picker carries an aria-label a plain span may not have: it
//   becomes an image with that name.
(function () {
  "use strict";
  function suffix(element, prefix) {
    var found = null;
    element.classList.forEach(function (name) {
      if (name.indexOf(prefix) === 0) { found = name.slice(prefix.length); }
    });
    return found;
  }
  function nameTabularFields() {
    document.querySelectorAll(".tabular table").forEach(function (table) {
      var headings = {};
      table.querySelectorAll("thead th").forEach(function (th) {
        var field = suffix(th, "column-");
        if (field) { headings[field] = th.textContent.trim(); }
      });
      table.querySelectorAll("tbody tr.form-row").forEach(function (row, index) {
        row.querySelectorAll("td").forEach(function (cell) {
          var heading = cell.classList.contains("delete") ? "Delete" : headings[suffix(cell, "field-")];
          if (!heading) { return; }
          cell.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(function (control) {
            if ((!control.labels || control.labels.length === 0) && !control.hasAttribute("aria-label")) {
              control.setAttribute("aria-label", heading + ", row " + (index + 1));
            }
          });
        });
      });
    });
  }
  function nameAutocompletes() {
    document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var label = select.id ? document.querySelector('label[for="' + select.id + '"]') : null;
      var box = select.nextElementSibling;
      if (!label || !box || !box.classList.contains("select2")) { return; }
      if (!label.id) { label.id = select.id + "-label"; }
      box.querySelectorAll(".select2-selection").forEach(function (selection) {
        var ids = (selection.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
        if (ids.indexOf(label.id) < 0) { selection.setAttribute("aria-labelledby", [label.id].concat(ids).join(" ")); }
      });
      // The text of the choice (a "textbox" to assistive technology) is empty until one is made.
      box.querySelectorAll(".select2-selection__rendered[role=textbox]").forEach(function (rendered) {
        rendered.setAttribute("aria-labelledby", label.id);
      });
      box.querySelectorAll(".select2-search__field").forEach(function (field) {
        field.setAttribute("aria-label", label.textContent.trim());
      });
    });
  }
  function nameFilterIcons() {
    document.querySelectorAll(".help-tooltip[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }
  function nameAll() {
    nameTabularFields();
    nameAutocompletes();
    nameFilterIcons();
  }
  // After the admin's own scripts, which build the pickers and Select2 boxes on load.
  window.addEventListener("load", function () { window.setTimeout(nameAll, 0); });
  document.addEventListener("formset:added", function () { window.setTimeout(nameAll, 0); });
  document.addEventListener("change", function () { window.setTimeout(nameAutocompletes, 0); });
})();

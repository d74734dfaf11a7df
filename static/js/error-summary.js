// After a failed submit, move focus to the form's error summary, so that a keyboard or screen-reader
// user hears what went wrong; each of its links then moves focus to the field it names.
// The portal's summary is [data-error-summary]; the admin's is its .errornote, given links here.
(() => {
  const focusField = (event) => {
    const field = document.getElementById(decodeURIComponent(event.currentTarget.hash.slice(1)));
    if (!field) return;
    event.preventDefault();
    const label = document.querySelector(`label[for="${CSS.escape(field.id)}"]`);
    (label || field).scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  };

  const adminSummary = (note) => {
    // The admin marks each row in error (.errors) and lists its messages (.errorlist) by the field.
    const items = [];
    document.querySelectorAll(".form-row.errors, .fieldBox.errors").forEach((row) => {
      const field = row.querySelector("input:not([type=hidden]), select, textarea");
      const messages = row.querySelectorAll(".errorlist li");
      if (!field || !field.id || !messages.length) return;
      const label = row.querySelector(`label[for="${CSS.escape(field.id)}"]`);
      const name = label ? label.textContent.replace(/:\s*$/, "").trim() : field.name;
      messages.forEach((message) => items.push([field.id, `${name}: ${message.textContent.trim()}`]));
    });
    if (items.length) {
      const list = document.createElement("ul");
      items.forEach(([id, text]) => {
        const link = document.createElement("a");
        link.href = `#${id}`;
        link.textContent = text;
        const item = document.createElement("li");
        item.append(link);
        list.append(item);
      });
      note.append(list);
    }
    note.setAttribute("tabindex", "-1");
    note.setAttribute("role", "alert");
    return note;
  };

  const start = () => {
    let summary = document.querySelector("[data-error-summary]");
    if (!summary) {
      const note = document.querySelector(".errornote");
      if (note) summary = adminSummary(note);
    }
    if (!summary) return;
    summary.querySelectorAll("a[href^='#']").forEach((link) => link.addEventListener("click", focusField));
    summary.focus();
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

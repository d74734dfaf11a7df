// Selects the whole value of a field marked data-select-on-focus when it gets focus (a token to copy).
document.querySelectorAll("[data-select-on-focus]").forEach((field) => {
  field.addEventListener("focus", () => field.select());
});

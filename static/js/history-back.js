// A link marked data-history-back returns to the previous page, keeping what was typed in its form;
// its href is where to go when there is no previous page.
document.querySelectorAll("a[data-history-back]").forEach((link) => {
  link.addEventListener("click", (event) => {
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
});

// Keys for the review pages: a accept, r reject, j next, k previous, / the reason field, Escape leaves a field.
"use strict";
document.addEventListener("keydown", (event) => {
  const typing = event.target.closest && event.target.closest("input, textarea, select");
  if (typing) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const click = (id) => {
    const el = document.getElementById(id);
    if (!el) return false;
    if (el.form) el.form.requestSubmit(el);
    else el.click();
    return true;
  };
  const focus = (id) => {
    const el = document.getElementById(id);
    if (el) el.focus();
    return Boolean(el);
  };
  const actions = { a: () => click("accept"), r: () => click("reject"), j: () => click("next"),
    k: () => click("prev"), "/": () => focus("because") };
  const act = actions[event.key];
  if (act && act()) event.preventDefault();
});

/* The params form in the browser: nothing the developer does while a redraw is on its way is lost.

The server draws the form (bundles/forms.py) and htmx sends each change back. A redraw carries the
form as it was when its request left, and its answer replaces the controls the developer may be
using meanwhile. htmx would queue a change made meanwhile on a control the answer then replaces,
and drop it. So, while a request of the params is on its way:

- a change or a row-button click inside the params waits here, in order, instead of in htmx;
- when the answer is swapped in, every control edited since the request left gets its edited value
  back (with its caret), and the changes that waited are replayed on the redrawn controls, one
  request at a time.

A removed row shifts the rows after it up by one, so what waits is renumbered through each removal.
*/
(function () {
  "use strict";

  const PREFIX = /^(param|_len|_variant\d*|_present|_extra|_mapk|_json|_drawn)(.*)$/;
  const waiting = []; // {name, value} for a control, {button, list, index} for a row button
  let inFlight = null; // {xhr, sent, removal, edits, caret}
  let submitAfter = null; // the form submitted while a redraw was on its way: sent once it has landed

  const params = () => document.getElementById("params");
  const isRadio = (el) => el.type === "radio" || el.type === "checkbox";
  const key = (el) => (isRadio(el) ? el.name + "\u0000" + el.value : el.name);

  function controls(root) {
    return Array.from(root.querySelectorAll("input[name], select[name], textarea[name]")).filter(
      (el) => el.type !== "hidden",
    );
  }

  function read(el) {
    if (isRadio(el)) return el.checked;
    if (el.multiple) return Array.from(el.selectedOptions, (o) => o.value).join("\u0000");
    return el.value;
  }

  function write(el, state) {
    if (isRadio(el)) el.checked = state;
    else if (el.multiple) {
      const chosen = new Set(state.split("\u0000"));
      Array.from(el.options).forEach((o) => (o.selected = chosen.has(o.value)));
    } else el.value = state;
  }

  function control(name, value) {
    const root = params();
    if (!root || name === null) return null;
    return controls(root).find((el) => el.name === name && (value === undefined || el.value === value)) || null;
  }

  // A name (or a row's path) as it reads after the removal of row `index` of `list`; null if it was in that row.
  function renumber(name, removal) {
    if (!removal || name === null) return name;
    const m = PREFIX.exec(name);
    const head = removal.list + "/";
    if (!m || !m[2].startsWith(head)) return name;
    const row = /^(\d+)(\/.*)?$/.exec(m[2].slice(head.length));
    if (!row) return name;
    const at = Number(row[1]);
    if (at < removal.index) return name;
    if (at === removal.index) return null;
    return m[1] + head + (at - 1) + (row[2] || "");
  }

  // What an element's request means, in words that survive a redraw.
  function intent(elt) {
    if (elt.matches("button.remove-row")) return { row: "param" + elt.dataset.list + "/" + elt.dataset.index };
    if (elt.matches("button.add-row")) return { list: "param" + elt.dataset.list };
    if (elt.name) return { name: elt.name, value: isRadio(elt) ? elt.value : undefined };
    return null;
  }

  function same(a, b) {
    return a.row === b.row && a.list === b.list && a.name === b.name && a.value === b.value;
  }

  function renumberWaiting(removal) {
    for (let i = waiting.length - 1; i >= 0; i--) {
      const w = waiting[i];
      const moved = { ...w };
      for (const field of ["row", "list", "name"]) if (w[field] !== undefined) moved[field] = renumber(w[field], removal);
      if (moved.row === null || moved.list === null || moved.name === null) waiting.splice(i, 1);
      else waiting[i] = moved;
    }
  }

  function replayNext() {
    while (!inFlight && waiting.length) {
      const w = waiting.shift();
      let elt = null;
      if (w.row !== undefined) {
        const cut = w.row.lastIndexOf("/");
        elt = params().querySelector(
          `button.remove-row[data-list="${CSS.escape(w.row.slice(5, cut))}"][data-index="${w.row.slice(cut + 1)}"]`,
        );
        if (elt) elt.click();
      } else if (w.list !== undefined) {
        elt = params().querySelector(`button.add-row[data-list="${CSS.escape(w.list.slice(5))}"]`);
        if (elt) elt.click();
      } else {
        elt = control(w.name, w.value);
        if (elt && (!isRadio(elt) || elt.checked || elt.type === "checkbox")) {
          elt.dispatchEvent(new Event("change", { bubbles: true }));
        }
      }
    }
    if (!inFlight && !waiting.length && submitAfter) {
      const { form, submitter } = submitAfter;
      submitAfter = null;
      form.requestSubmit(submitter && form.contains(submitter) ? submitter : undefined);
    }
  }

  // Deploy (or Save) pressed while the params are being redrawn: the form is sent once they have
  // landed, with what they hold then (a preset being applied, a variant being drawn).
  document.addEventListener(
    "submit",
    (event) => {
      const root = params();
      if (!root || event.target !== root.closest("form") || (!inFlight && !waiting.length)) return;
      event.preventDefault();
      submitAfter = { form: event.target, submitter: event.submitter };
      const summary = document.getElementById("params-summary");
      if (summary) summary.textContent = "Sending as soon as the form has caught up with your last change…";
    },
    true,
  );

  // While a request of the params is on its way, what the developer does inside them waits its turn.
  document.addEventListener("htmx:confirm", (event) => {
    const elt = event.detail.elt;
    const root = params();
    if (!inFlight || !root || !root.contains(elt)) return;
    const what = intent(elt);
    if (!what) return;
    event.preventDefault();
    // A change needs replaying once (it carries the control's value); every click on Add adds a row.
    if (what.list !== undefined || !waiting.some((w) => same(w, what))) waiting.push(what);
  });

  document.addEventListener("htmx:beforeRequest", (event) => {
    const root = params();
    const elt = event.detail.elt;
    if (!root || !(root.contains(elt) || elt.closest("form") === root.closest("form"))) return;
    const sent = new Map();
    controls(event.detail.target).forEach((el) => sent.set(key(el), read(el)));
    const removal = elt.matches("button.remove-row")
      ? { list: elt.dataset.list, index: Number(elt.dataset.index) }
      : null;
    // A row button pressed: once redrawn, focus goes where the developer's next key belongs (see rowFocus).
    const rows = elt.matches("button.add-row, button.remove-row") && document.activeElement === elt
      ? { list: elt.dataset.list, index: removal ? removal.index : null, id: elt.id }
      : null;
    inFlight = { xhr: event.detail.xhr, sent, removal, rows, edits: [], caret: null, swapped: false };
  });

  // After a row is added, its first field; after one is removed, the row that took its place, else the
  // one before it, else the list's Add button. Never <body>, and never a button the new row pushed down.
  function rowFocus(rows) {
    const active = document.activeElement;
    if (active && active !== document.body && active.id !== rows.id) return; // focus went elsewhere meanwhile
    const root = params();
    const fieldset = root && root.querySelector(`fieldset[data-rows="${CSS.escape(rows.list)}"]`);
    if (!fieldset) return;
    const items = Array.from(fieldset.querySelectorAll(":scope > .row-list > li.row"));
    const first = (li) => li && controls(li).find((el) => !el.disabled && el.getClientRects().length);
    const target =
      rows.index === null
        ? first(items[items.length - 1])
        : first(items[rows.index]) || first(items[rows.index - 1]);
    const fallback = fieldset.querySelector(":scope > button.add-row") || fieldset;
    const to = target || fallback;
    if (to === fieldset) fieldset.tabIndex = -1;
    to.focus();
  }

  document.addEventListener("htmx:beforeSwap", (event) => {
    if (!inFlight || event.detail.xhr !== inFlight.xhr || !event.detail.shouldSwap) return;
    inFlight.swapped = true;
    controls(event.detail.target).forEach((el) => {
      const k = key(el);
      if (inFlight.sent.has(k) && inFlight.sent.get(k) !== read(el)) {
        inFlight.edits.push({ name: el.name, value: isRadio(el) ? el.value : undefined, state: read(el) });
      }
    });
    const active = document.activeElement;
    if (active && active.name && event.detail.target.contains(active) && typeof active.selectionStart === "number") {
      inFlight.caret = {
        name: active.name,
        start: active.selectionStart,
        end: active.selectionEnd,
        all: active.value.length > 0 && active.selectionStart === 0 && active.selectionEnd === active.value.length,
      };
    }
  });

  // The field being typed in keeps its selection. htmx focuses the redrawn field but drops a selection that
  // starts at 0: "all of it" became a caret before the default, so typing gave default+typing ("ordersjobs").
  // Here, in the same task as the swap, before the next key can land.
  function keepSelection(el, caret) {
    if (!el || !el.setSelectionRange || el.name !== caret.name) return;
    try {
      if (caret.all) el.setSelectionRange(0, el.value.length);
      else el.setSelectionRange(Math.min(caret.start, el.value.length), Math.min(caret.end, el.value.length));
    } catch (e) {
      // a type without a text selection (number, email): nothing to keep
    }
  }

  document.addEventListener("htmx:afterSwap", (event) => {
    if (!inFlight || event.detail.xhr !== inFlight.xhr || !inFlight.caret) return;
    const el = control(inFlight.caret.name);
    if (!el || el.disabled) return;
    if (document.activeElement !== el) el.focus({ preventScroll: true });
    if (!inFlight.edits.some((edit) => edit.name === el.name)) keepSelection(el, inFlight.caret);
  });

  // The answer is in and htmx has wired up its controls: give back what was edited meanwhile.
  document.addEventListener("htmx:afterSettle", (event) => {
    if (!inFlight || event.detail.xhr !== inFlight.xhr || inFlight.restored) return;
    inFlight.restored = true;
    const removal = inFlight.removal;
    inFlight.edits.forEach((edit) => {
      const el = control(renumber(edit.name, removal), edit.value);
      if (!el || el.disabled || el.readOnly || read(el) === edit.state) return;
      write(el, edit.state);
      el.dispatchEvent(new Event("input", { bubbles: true })); // a range's number follows; htmx listens to change only
      const caret = inFlight.caret;
      if (caret && caret.name === edit.name && el.setSelectionRange) {
        el.focus({ preventScroll: true });
        keepSelection(el, caret);
        // Still being typed in: the engine hears of it when the developer leaves the field.
        el.addEventListener("blur", () => el.dispatchEvent(new Event("change", { bubbles: true })), { once: true });
      }
    });
    renumberWaiting(removal);
    if (inFlight.rows) rowFocus(inFlight.rows);
  });

  // An answer that is an error (or none at all) is said where the form's verdict is, not swallowed.
  function failed(event) {
    if (!inFlight || event.detail.xhr !== inFlight.xhr) return;
    const summary = document.getElementById("params-summary");
    const status = event.detail.xhr.status;
    if (summary) {
      summary.textContent =
        "The form could not be redrawn (" +
        (status ? "the server answered " + status : "no answer from the server") +
        "): your last change is not applied yet. Try it again.";
      summary.classList.add("error");
    }
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  // The request is over. Only an answer that was swapped in removed a row: after an error, a
  // refusal or an abort, what waits keeps its numbers.
  function settled(event) {
    if (!inFlight || event.detail.xhr !== inFlight.xhr) return;
    if (inFlight.swapped && !inFlight.restored) renumberWaiting(inFlight.removal);
    inFlight = null;
    setTimeout(replayNext, 0); // after htmx has released the form's request lock
  }
  document.addEventListener("htmx:afterRequest", settled);
  document.addEventListener("htmx:onLoadError", settled); // htmx skips afterRequest when handling the answer throws
})();

/* A range slider shows its value in the <output> beside it. A listener here rather than an inline
   `oninput`: the Content-Security-Policy runs no inline script or handler. */
document.addEventListener("input", (event) => {
  const slider = event.target;
  const output = slider.nextElementSibling;
  if (slider.type === "range" && output && output.tagName === "OUTPUT") output.value = slider.value;
});

/* A refused submit: focus goes to the summary of its problems (the page title says "Error:"), and each
   of its links focuses its field, scrolled so that the field's label shows too. */
(function () {
  "use strict";
  function focusSummary() {
    // Not when the page already has a focus: a person (or a test) quick enough to be typing in a field
    // while the page was still loading keeps it.
    const summary = document.getElementById("error-summary");
    const active = document.activeElement;
    if (summary && (!active || active === document.body)) summary.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusSummary);
  else focusSummary();
  document.addEventListener("click", (event) => {
    const link = event.target.closest("#error-summary a[href^='#']");
    if (!link) return;
    const target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (!target) return;
    event.preventDefault();
    if (target.tabIndex < 0 && !target.matches("input, select, textarea, button")) target.tabIndex = -1;
    (target.closest(".field, fieldset") || target).scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  });
})();

/* "/" anywhere but in a field focuses the top bar's search (the shortcut its input announces with
   aria-keyshortcuts); Escape there gives the page back. */
document.addEventListener("keydown", (event) => {
  const search = document.getElementById("top-search");
  if (!search) return;
  if (event.key === "Escape" && document.activeElement === search) {
    search.blur();
    return;
  }
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  const at = event.target;
  if (at.isContentEditable || at.closest("input, textarea, select, [role=log]")) return;
  event.preventDefault();
  search.focus();
  search.select();
});

/* A Copy button copies the text of the element its data-copy names (an output's value) and says so. Without
   the Clipboard API (plain HTTP on a private network), the text is selected for Ctrl-C instead. */
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  const source = button && document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  const label = button.dataset.label || (button.dataset.label = button.innerHTML);
  const said = (words) => {
    button.textContent = words;
    setTimeout(() => (button.innerHTML = label), 2000);
  };
  const select = () => {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    said("Selected: press Ctrl-C");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => said("Copied"), select);
  } else select();
});

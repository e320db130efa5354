/* The deployment page's tabs (templates/deployments/detail.html), progressively enhanced.

Without JavaScript each tab is a link (?tab=runs) the server answers with that panel open. Here the links
become ARIA tabs: role=tablist/tab/tabpanel, one tab in the Tab order, Left/Right/Home/End move between them
and open the one reached, and the address follows (?tab=...) so a copied link opens the same tab. A link
to something inside a closed panel (#live) opens its panel. The page's region that follows the runs is
fetched again with the tab open, and enhanced again when it lands. */
(function () {
  "use strict";

  function enhance(root) {
    const bar = root.querySelector("[data-tabs]");
    if (!bar || bar.getAttribute("role") === "tablist") return;
    const tabs = Array.from(bar.querySelectorAll("[data-tab]"));
    const panel = (tab) => document.getElementById(tab.dataset.tab);
    bar.setAttribute("role", "tablist");
    tabs.forEach((tab) => {
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", tab.dataset.tab);
      const p = panel(tab);
      p.setAttribute("role", "tabpanel");
      p.tabIndex = 0;
    });

    function select(tab, { focus = false, remember = true } = {}) {
      tabs.forEach((t) => {
        const on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        t.removeAttribute("aria-current");
        t.tabIndex = on ? 0 : -1;
        panel(t).hidden = !on;
      });
      if (focus) tab.focus();
      if (remember) {
        const url = new URL(window.location.href);
        url.searchParams.set("tab", tab.dataset.tab);
        url.hash = "";
        history.replaceState(history.state, "", url);
      }
    }

    const asked = new URL(window.location.href).searchParams.get("tab");
    const hashed = window.location.hash && document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    const holding = hashed && tabs.find((t) => panel(t).contains(hashed));
    const current = holding || tabs.find((t) => t.dataset.tab === asked) || tabs.find((t) => !panel(t).hidden) || tabs[0];
    select(current, { remember: false });
    if (holding) hashed.scrollIntoView({ block: "start" });

    bar.addEventListener("click", (event) => {
      const tab = event.target.closest("[data-tab]");
      if (!tab || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      select(tab);
    });
    bar.addEventListener("keydown", (event) => {
      const at = tabs.indexOf(event.target);
      if (at < 0) return;
      const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (to === undefined) return;
      event.preventDefault();
      select(tabs[(to + tabs.length) % tabs.length], { focus: true });
    });
  }

  // A link to an anchor in a closed panel (the page head's "Live: what is really running") opens that panel.
  window.addEventListener("hashchange", () => {
    const target = window.location.hash && document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
    const p = target && target.closest("[data-tab-panel]");
    const tab = p && document.getElementById("tab-" + p.dataset.tabPanel);
    if (tab && p.hidden) {
      tab.click();
      target.scrollIntoView({ block: "start" });
    }
  });

  // The region that follows the runs is fetched with the open tab, so its answer draws that tab.
  document.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt.id !== "deployment-live") return;
    const open = document.querySelector("[data-tabs] [aria-selected=true]");
    if (open) event.detail.parameters.tab = open.dataset.tab;
  });
  document.addEventListener("htmx:load", (event) => enhance(event.detail.elt.parentNode || document));

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => enhance(document));
  else enhance(document);
})();

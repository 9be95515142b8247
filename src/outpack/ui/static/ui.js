// The packet browser's only script: live name filter, copy buttons, local times,
// and "/" to jump to the search box. Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("[data-filter-table]")) {
    const table = document.getElementById(input.dataset.filterTable);
    if (!table) continue;
    const apply = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      for (const row of table.tBodies[0].rows) {
        const text = row.dataset.name || "";
        row.hidden = !words.every((word) => text.includes(word));
      }
    };
    input.addEventListener("input", apply);
    input.form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const source = document.getElementById(button.dataset.copy);
      source.select();
      try {
        await navigator.clipboard.writeText(source.value);
      } catch (error) {
        document.execCommand("copy");
      }
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy"; }, 1500);
    });
  }
  for (const node of document.querySelectorAll("time[data-local]")) {
    const moment = new Date(node.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) node.textContent = moment.toLocaleString();
  }
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
    if (event.key === "/" && !typing) {
      event.preventDefault();
      document.getElementById("q").focus();
    }
  });
});

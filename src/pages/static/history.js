// History: a page of rides with filters (title, sport, date range), newest first.
"use strict";
(() => {
  const form = document.getElementById("filters");
  const body = document.querySelector("#rides tbody");
  let current = 1;
  let pages = 1;

  async function load(pageNo) {
    const f = new FormData(form);
    const q = new URLSearchParams({ page: String(pageNo), limit: "20", status: "completed" });
    if (f.get("q")) q.set("title", f.get("q"));
    if (f.get("sport")) q.set("sport", f.get("sport"));
    if (f.get("from")) q.set("startDate", new Date(`${f.get("from")}T00:00:00`).toISOString());
    if (f.get("to")) q.set("endDate", new Date(`${f.get("to")}T23:59:59`).toISOString());
    setStatus("Loading…");
    const answer = await api(`/api/workouts?${q}`);
    current = pageNo;
    pages = Math.max(1, answer.pagination.totalPages);
    body.replaceChildren(...answer.workouts.map((w) => {
      const s = w.summary ?? {};
      const link = el("a", { href: `/rides/${w.id}` }, w.title || "Untitled ride");
      const km = s.totalDistance == null ? null : s.totalDistance / 1000;
      return el(
        "tr",
        {},
        el("td", {}, new Date(w.startTime).toLocaleString()),
        el("td", {}, link),
        el("td", {}, w.sport),
        el("td", { class: "num" }, duration(w.duration)),
        el("td", { class: "num" }, num(km, 1)),
        el("td", { class: "num" }, num(s.avgPower)),
        el("td", { class: "num" }, num(s.normalizedPower)),
        el("td", { class: "num" }, num(s.trainingLoad)),
      );
    }));
    const total = answer.pagination.total;
    setStatus(total === 0 ? "No rides found." : `${total} rides`);
    document.getElementById("page-of").textContent = `Page ${current} of ${pages}`;
    document.getElementById("prev").disabled = current <= 1;
    document.getElementById("next").disabled = current >= pages;
  }

  const show = (n) => load(n).catch((err) => setStatus(err.message));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    show(1);
  });
  document.getElementById("prev").onclick = () => show(current - 1);
  document.getElementById("next").onclick = () => show(current + 1);
  show(1);
})();

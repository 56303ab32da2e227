// Power curve: the best curve of a period against another, log time axis, values on hover.
"use strict";
(() => {
  const form = document.getElementById("periods");
  const f = form.elements;
  const node = document.getElementById("chart");
  const day = 86400_000;
  const iso = (d) => d.toISOString().slice(0, 10);
  // At first: all history against the last 90 days.
  f.compareFrom.value = iso(new Date(Date.now() - 89 * day));
  f.compareTo.value = iso(new Date());
  let plot;

  async function load() {
    const q = new URLSearchParams();
    if (f.periodFrom.value) q.set("from", new Date(`${f.periodFrom.value}T00:00:00`).toISOString());
    if (f.periodTo.value) q.set("to", new Date(`${f.periodTo.value}T23:59:59`).toISOString());
    if (f.compareFrom.value && f.compareTo.value) {
      q.set("compareFrom", new Date(`${f.compareFrom.value}T00:00:00`).toISOString());
      q.set("compareTo", new Date(`${f.compareTo.value}T23:59:59`).toISOString());
    }
    const answer = await api(`/api/analytics/power-curve?${q}`);
    const other = answer.compare?.curve ?? [];
    const durations = [...new Set([...answer.curve, ...other].map((p) => p.duration))]
      .sort((a, b) => a - b);
    const at = (list) => durations.map((d) => list.find((p) => p.duration === d)?.watts ?? null);
    const data = [durations, at(answer.curve), at(other)];
    setStatus(durations.length ? "" : "No rides with power in this period.");
    document.querySelector("#bests tbody").replaceChildren(
      ...durations.map((d, i) =>
        el(
          "tr",
          {},
          el("td", {}, durationLabel(d)),
          el("td", { class: "num" }, num(data[1][i])),
          el("td", { class: "num" }, num(data[2][i])),
        )
      ),
    );
    plot?.destroy();
    plot = new uPlot(
      {
        width: chartWidth(node),
        height: 360,
        scales: { x: { time: false, distr: 3 } },
        axes: [curveAxis, { label: "W" }],
        series: [
          { label: "Duration", value: (_, v) => v == null ? "–" : durationLabel(v) },
          { label: "Period (W)", stroke: "#c2410c", width: 2, spanGaps: true },
          { label: "Compared (W)", stroke: "#64748b", width: 2, spanGaps: true },
        ],
      },
      data,
      node,
    );
    node.dataset.points = String(durations.length);
    document.body.dataset.ready = "true";
  }
  form.onsubmit = (e) => {
    e.preventDefault();
    load().catch((err) => setStatus(err.message));
  };
  load().catch((err) => setStatus(err.message));
})();

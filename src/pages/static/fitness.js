// Fitness: CTL, ATL and TSB over the chosen days, with the daily TSS as bars.
"use strict";
(() => {
  const form = document.getElementById("range");
  const node = document.getElementById("chart");
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let plot;

  async function load() {
    const today = new Date();
    const from = new Date(today.getTime() - (Number(form.elements.days.value) - 1) * 86400_000);
    const q = new URLSearchParams({
      tz,
      from: from.toLocaleDateString("sv"),
      to: today.toLocaleDateString("sv"),
    });
    const answer = await api(`/api/analytics/fitness?${q}`);
    const days = answer.days;
    const last = days[days.length - 1];
    const cards = [["ctl", "Fitness (CTL)"], ["atl", "Fatigue (ATL)"], ["tsb", "Form (TSB)"]];
    document.getElementById("today").replaceChildren(
      ...cards.map(([k, label]) =>
        el("div", {}, el("dt", {}, label), el("dd", { "data-key": k }, num(last?.[k])))
      ),
    );
    const data = [
      days.map((d) => Date.parse(`${d.date}T12:00:00Z`) / 1000),
      days.map((d) => d.tss),
      days.map((d) => d.ctl),
      days.map((d) => d.atl),
      days.map((d) => d.tsb),
    ];
    plot?.destroy();
    plot = new uPlot(
      {
        width: chartWidth(node),
        height: 360,
        scales: { tss: {} },
        series: [
          { value: (_, v) => v == null ? "–" : new Date(v * 1000).toLocaleDateString() },
          {
            label: "TSS",
            stroke: "#64748b",
            fill: "#cbd5e1",
            paths: uPlot.paths.bars({ size: [0.8] }),
            scale: "tss",
          },
          { label: "CTL", stroke: "#1d4ed8", width: 2 },
          { label: "ATL", stroke: "#b91c1c", width: 2 },
          { label: "TSB", stroke: "#15803d", width: 2 },
        ],
        axes: [{}, { label: "CTL / ATL / TSB" }, {
          scale: "tss",
          side: 1,
          label: "TSS",
          grid: { show: false },
        }],
      },
      data,
      node,
    );
    node.dataset.points = String(days.length);
    setStatus("");
    document.body.dataset.ready = "true";
  }
  form.onchange = () => load().catch((err) => setStatus(err.message));
  load().catch((err) => setStatus(err.message));
})();

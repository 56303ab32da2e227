// Calendar: four weeks (Monday first) with each day's rides and the week's totals, local time.
"use strict";
(() => {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const node = document.getElementById("calendar");
  const local = (d) => d.toLocaleDateString("sv", { timeZone: tz });
  const now = new Date();
  const monday = now.getDate() - ((now.getDay() + 6) % 7);
  let start = new Date(now.getFullYear(), now.getMonth(), monday - 21);
  const shift = (days) => new Date(start.getFullYear(), start.getMonth(), start.getDate() + days);

  async function load() {
    const end = shift(28);
    const lastDay = shift(27);
    document.getElementById("range-label").textContent =
      `${start.toLocaleDateString()} – ${lastDay.toLocaleDateString()}`;
    const [list, totals] = await Promise.all([
      api(
        `/api/workouts?limit=1000&status=completed&startDate=${start.toISOString()}&endDate=${end.toISOString()}`,
      ),
      api(
        `/api/analytics/totals?period=week&tz=${encodeURIComponent(tz)}&from=${local(start)}&to=${
          local(lastDay)
        }`,
      ),
    ]);
    const byDay = new Map();
    for (const w of list.workouts) {
      const key = local(new Date(w.startTime));
      byDay.set(key, [...(byDay.get(key) ?? []), w]);
    }
    const weeks = [];
    for (let week = 0; week < 4; week++) {
      const cells = [];
      for (let d = 0; d < 7; d++) {
        const date = shift(week * 7 + d);
        const label = date.toLocaleDateString(undefined, {
          weekday: "short",
          day: "numeric",
          month: "short",
        });
        const rides = (byDay.get(local(date)) ?? []).map((w) =>
          el("a", { href: `/rides/${w.id}` }, `${w.title || w.sport} · ${duration(w.duration)}`)
        );
        cells.push(el("div", { class: "day" }, el("span", { class: "date" }, label), ...rides));
      }
      const t = totals.totals[week];
      const text = t
        ? `${duration(t.durationS)} · ${num(t.distanceM / 1000, 1)} km · ${
          num(t.workKj)
        } kJ · TSS ${num(t.tss)}`
        : "–";
      cells.push(
        el(
          "div",
          { class: "day total" },
          el("span", { class: "date" }, "Week"),
          el("span", {}, text),
        ),
      );
      weeks.push(el("div", { class: "week" }, ...cells));
    }
    node.replaceChildren(...weeks);
    setStatus("");
  }
  const move = (days) => {
    start = shift(days);
    load().catch((err) => setStatus(err.message));
  };
  document.getElementById("prev").onclick = () => move(-28);
  document.getElementById("next").onclick = () => move(28);
  load().catch((err) => setStatus(err.message));
})();

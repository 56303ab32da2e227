// Ride detail: summary, a zoomable chart of power/HR/cadence/speed, the route, zones, curve.
"use strict";
(async () => {
  const id = page.id;
  const fields = "power,heartRate,cadence,speed";
  const toSeconds = (t) => (typeof t === "number" ? t : Date.parse(t)) / 1000;
  let workout;
  try {
    workout = await api(`/api/workouts/${id}`);
  } catch (err) {
    setStatus(err.message);
    return;
  }
  const s = workout.summary ?? {};
  document.querySelector("h1").textContent = workout.title || "Untitled ride";
  document.getElementById("ride-meta").textContent = `${
    new Date(workout.startTime).toLocaleString()
  } · ${workout.sport}${workout.description ? ` · ${workout.description}` : ""}`;

  const km = s.totalDistance == null ? null : s.totalDistance / 1000;
  const items = [
    ["elapsedTime", "Time", duration(s.elapsedTime), ""],
    ["movingTime", "Moving", duration(s.movingTime), ""],
    ["totalDistance", "Distance", num(km, 1), "km"],
    ["avgPower", "Avg power", num(s.avgPower), "W"],
    ["normalizedPower", "Normalized power", num(s.normalizedPower), "W"],
    ["maxPower", "Max power", num(s.maxPower), "W"],
    ["avgHeartrate", "Avg heart rate", num(s.avgHeartrate), "bpm"],
    ["avgCadence", "Avg cadence", num(s.avgCadence), "rpm"],
    ["avgSpeed", "Avg speed", num(s.avgSpeed, 1), "km/h"],
    ["workKj", "Work", num(s.workKj), "kJ"],
    ["trainingLoad", "TSS", num(s.trainingLoad), ""],
    ["intensityFactor", "IF", num(s.intensityFactor, 2), ""],
  ];
  document.getElementById("summary").replaceChildren(
    ...items.map(([key, label, value, unit]) =>
      el(
        "div",
        {},
        el("dt", {}, label),
        el("dd", { "data-key": key }, unit ? `${value} ${unit}` : value),
      )
    ),
  );

  // Exports, edit, delete.
  document.getElementById("exports").replaceChildren(
    ...page.formats.map((f) =>
      el("a", { class: "button", href: `/api/workouts/${id}/export?format=${f}` }, f.toUpperCase())
    ),
  );
  const form = document.getElementById("edit-form");
  document.getElementById("edit").onclick = () => {
    form.elements.title.value = workout.title ?? "";
    form.elements.sport.value = workout.sport;
    form.elements.description.value = workout.description ?? "";
    form.hidden = false;
    form.elements.title.focus();
  };
  document.getElementById("cancel").onclick = () => (form.hidden = true);
  form.onsubmit = async (e) => {
    e.preventDefault();
    const f = form.elements;
    try {
      await api(`/api/workouts/${id}`, {
        method: "PATCH",
        body: {
          title: f.title.value || null,
          sport: f.sport.value,
          description: f.description.value || null,
        },
      });
      location.reload();
    } catch (err) {
      setStatus(err.message);
    }
  };
  document.getElementById("delete").onclick = async () => {
    if (!confirm("Delete this ride and its samples? This cannot be undone.")) return;
    try {
      await api(`/api/workouts/${id}`, { method: "DELETE" });
      location.href = "/rides";
    } catch (err) {
      setStatus(err.message);
    }
  };

  // Zones: bars sized by their share of the time.
  function zones(node, list) {
    if (!list || list.length === 0) {
      node.textContent = "No zones (set your FTP and max heart rate on the profile).";
      return;
    }
    const total = list.reduce((a, z) => a + z.seconds, 0) || 1;
    node.replaceChildren(...list.map((z) => {
      const bar = el("span", { class: "bar" });
      bar.style.width = `${(100 * z.seconds) / total}%`;
      const name = `Z${z.zone}${z.name ? ` ${z.name}` : ""}`;
      return el(
        "div",
        { class: "zone" },
        el("span", {}, name),
        el("span", {}, bar),
        el("span", { class: "num" }, duration(z.seconds)),
      );
    }));
  }
  zones(document.getElementById("power-zones"), s.powerZones);
  zones(document.getElementById("hr-zones"), s.heartRateZones);

  // The chart: the 1-s grid for rides up to 2 h, 10-s rollups beyond (the 1-s grid when zoomed
  // into an hour or less).
  const chartNode = document.getElementById("chart");
  const long = (s.elapsedTime ?? workout.duration ?? 0) > 7200;
  const columns = (t) => [
    t.time.map(toSeconds),
    t.power ?? [],
    t.heartRate ?? [],
    t.cadence ?? [],
    t.speed ?? [],
  ];
  let telemetry;
  try {
    const resolution = long ? "10s" : "1s";
    telemetry = await api(
      `/api/workouts/${id}/telemetry?resolution=${resolution}&fields=${fields}`,
    );
  } catch (err) {
    setStatus(err.message);
    return;
  }
  let full = !long;
  const plot = new uPlot(
    {
      width: chartWidth(chartNode),
      height: 320,
      cursor: { drag: { x: true, y: false } },
      scales: { W: {}, bpm: {}, kmh: {} },
      series: [
        { value: (_, v) => v == null ? "–" : new Date(v * 1000).toLocaleTimeString() },
        { label: "Power (W)", stroke: "#c2410c", width: 1, scale: "W" },
        { label: "Heart rate (bpm)", stroke: "#b91c1c", width: 1, scale: "bpm" },
        { label: "Cadence (rpm)", stroke: "#1d4ed8", width: 1, scale: "bpm" },
        { label: "Speed (km/h)", stroke: "#15803d", width: 1, scale: "kmh" },
      ],
      axes: [
        {},
        { scale: "W", label: "W" },
        { scale: "bpm", side: 1, label: "bpm / rpm", grid: { show: false } },
        { scale: "kmh", show: false },
      ],
      hooks: {
        setScale: [(u, key) => {
          if (key !== "x" || full) return;
          const { min, max } = u.scales.x;
          if (max - min > 3600) return;
          full = true;
          api(`/api/workouts/${id}/telemetry?resolution=1s&fields=${fields}`).then((fine) => {
            u.setData(columns(fine), false);
            u.setScale("x", { min, max });
            chartNode.dataset.resolution = "1s";
          }).catch((err) => setStatus(err.message));
        }],
      },
    },
    columns(telemetry),
    chartNode,
  );
  chartNode.dataset.points = String(telemetry.time.length);
  chartNode.dataset.resolution = long ? "10s" : "1s";
  addEventListener("resize", () => plot.setSize({ width: chartWidth(chartNode), height: 320 }));

  // The route: on the configured tiles, or on a plain background (works offline).
  // Neither the grid nor the rollups hold positions: they come from the raw samples.
  const positions = await api(`/api/workouts/${id}/telemetry?resolution=raw&fields=lat,lon`)
    .catch(() => ({}));
  const track = [];
  for (let i = 0; i < (positions.lat?.length ?? 0); i++) {
    const lat = positions.lat[i], lon = positions.lon[i];
    if (lat != null && lon != null) track.push([lat, lon]);
  }
  if (track.length > 1) {
    document.getElementById("map-section").hidden = false;
    const map = L.map("map", { attributionControl: Boolean(page.tiles.url) });
    if (page.tiles.url) {
      L.tileLayer(page.tiles.url, { attribution: page.tiles.attribution, maxZoom: 19 }).addTo(map);
    }
    const line = L.polyline(track, { color: "#c2410c", weight: 3 }).addTo(map);
    L.circleMarker(track[0], { radius: 6, color: "#15803d" }).addTo(map);
    L.circleMarker(track[track.length - 1], { radius: 6, color: "#b91c1c" }).addTo(map);
    map.fitBounds(line.getBounds(), { padding: [10, 10] });
    document.getElementById("map").dataset.points = String(track.length);
  }

  // This ride's power curve against the last 90 days'.
  const since = new Date(Date.now() - 90 * 86400_000).toISOString();
  const best = await api(`/api/analytics/power-curve?from=${since}`).catch(() => ({ curve: [] }));
  const ride = (s.powerCurve ?? []).filter((p) => p.watts != null);
  if (ride.length > 0) {
    const durations = [...new Set([...ride, ...best.curve].map((p) => p.duration))]
      .sort((a, b) => a - b);
    const at = (list) => durations.map((d) => list.find((p) => p.duration === d)?.watts ?? null);
    const curveNode = document.getElementById("curve");
    new uPlot(
      {
        width: chartWidth(curveNode),
        height: 260,
        scales: { x: { time: false, distr: 3 } },
        axes: [curveAxis, { label: "W" }],
        series: [
          { label: "Duration", value: (_, v) => v == null ? "–" : durationLabel(v) },
          { label: "This ride (W)", stroke: "#c2410c", width: 2, spanGaps: true },
          { label: "90 days (W)", stroke: "#64748b", width: 2, spanGaps: true },
        ],
      },
      [durations, at(ride), at(best.curve)],
      curveNode,
    );
  }
  setStatus("");
  document.body.dataset.ready = "true";
})();

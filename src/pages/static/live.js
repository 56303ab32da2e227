// Live: one's own ride (its samples polled each second) or a shared stream (its share link's SSE).
"use strict";
(() => {
  const node = document.getElementById("chart");
  const now = document.getElementById("now");
  const windowS = 120;
  const data = [[], [], [], []];
  const plot = new uPlot(
    {
      width: chartWidth(node),
      height: 260,
      series: [
        {},
        { label: "Power (W)", stroke: "#c2410c", width: 2 },
        { label: "Heart rate (bpm)", stroke: "#b91c1c", width: 2 },
        { label: "Cadence (rpm)", stroke: "#1d4ed8", width: 2 },
      ],
    },
    data,
    node,
  );

  function add(time, power, heartRate, cadence) {
    data[0].push(time);
    data[1].push(power);
    data[2].push(heartRate);
    data[3].push(cadence);
    while (data[0].length && data[0][0] < time - windowS) data.forEach((c) => c.shift());
    const cards = [["power", "Power", power, "W"], ["heartRate", "Heart rate", heartRate, "bpm"], [
      "cadence",
      "Cadence",
      cadence,
      "rpm",
    ]];
    now.replaceChildren(
      ...cards.map(([k, label, v, unit]) =>
        el("div", {}, el("dt", {}, label), el("dd", { "data-key": k }, `${num(v)} ${unit}`))
      ),
    );
    node.dataset.points = String(data[0].length);
  }

  if (page.id) {
    let cursor;
    const poll = async () => {
      try {
        const q = cursor ? `?after=${cursor}` : "";
        const answer = await api(`/api/workouts/${page.id}/live${q}`);
        for (const s of answer.samples) {
          add(Date.parse(s.time) / 1000, s.power, s.heartRate, s.cadence);
        }
        cursor = answer.cursor ?? cursor;
        plot.setData(data);
        setStatus(answer.status === "active" ? "Live" : "This ride has ended");
        if (answer.status === "active") setTimeout(poll, 1000);
      } catch (err) {
        setStatus(err.message);
        setTimeout(poll, 5000);
      }
    };
    poll();
  } else {
    const q = page.share ? `?share=${encodeURIComponent(page.share)}` : "";
    const source = new EventSource(`/api/streams/${encodeURIComponent(page.stream)}/listen${q}`);
    source.onopen = () => setStatus("Live");
    source.onerror = () => setStatus("Connection lost; retrying…");
    source.onmessage = (e) => {
      const frame = JSON.parse(e.data);
      if (frame.type === "stream_deleted") {
        setStatus("The ride has ended");
        source.close();
      }
      if (frame.type !== "message") return;
      let m = frame.data.message;
      try {
        m = typeof m === "string" ? JSON.parse(m) : m;
      } catch {
        return;
      }
      add(
        Number(frame.data.timestamp) / 1000,
        m.power ?? null,
        m.heartrate ?? null,
        m.cadence ?? null,
      );
      plot.setData(data);
    };
  }
})();

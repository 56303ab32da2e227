// Upload: drop or choose ride files; each is sent on its own with progress and its answer.
"use strict";
(() => {
  const drop = document.getElementById("drop");
  const input = document.getElementById("files");
  const list = document.getElementById("uploads");

  function send(file) {
    const bar = el("progress", { max: "100", value: "0" });
    const message = el("span", { class: "message" }, "Uploading…");
    const item = el("li", {}, el("strong", {}, file.name), " ", bar, " ", message);
    list.prepend(item);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/workouts/import?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("X-CSRF-Token", page.csrf);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) bar.value = (100 * e.loaded) / e.total;
    };
    xhr.onload = () => {
      bar.value = 100;
      let answer = {};
      try {
        answer = JSON.parse(xhr.responseText);
      } catch { /* not JSON */ }
      const w = answer.workout;
      const status = xhr.status === 201 ? "imported" : xhr.status === 200 ? "duplicate" : "refused";
      item.dataset.status = status;
      const text = {
        imported: "Imported: ",
        duplicate: "Already uploaded: ",
        refused: `Refused: ${answer.error ?? xhr.status}`,
      }[status];
      message.replaceChildren(
        text,
        w ? el("a", { href: `/rides/${w.id}` }, w.title || "the ride") : "",
      );
    };
    xhr.onerror = () => (message.textContent = "Refused: the connection failed");
    xhr.send(file);
  }
  const sendAll = (files) => [...files].forEach(send);
  input.onchange = () => sendAll(input.files);
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    sendAll(e.dataTransfer.files);
  });
})();

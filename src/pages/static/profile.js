// Profile: FTP (with its history), weight and max heart rate; personal API keys.
"use strict";
(async () => {
  const form = document.getElementById("profile");
  const f = form.elements;
  const status = document.getElementById("profile-status");
  async function loadProfile() {
    const user = await api("/api/users/me");
    f.displayName.value = user.displayName ?? "";
    f.ftpWatts.value = user.ftpWatts ?? "";
    f.weightKg.value = user.weightKg ?? "";
    f.maxHr.value = user.maxHr ?? "";
    const history = await api("/api/users/me/ftp-history");
    document.getElementById("ftp-history").replaceChildren(
      ...history.map((h) =>
        el("li", {}, `${h.ftp} W · ${h.source} · ${new Date(h.createdAt).toLocaleDateString()}`)
      ),
    );
  }
  form.onsubmit = async (e) => {
    e.preventDefault();
    const patch = {
      displayName: f.displayName.value || null,
      weightKg: f.weightKg.value ? Number(f.weightKg.value) : null,
      maxHr: f.maxHr.value ? Number(f.maxHr.value) : null,
    };
    if (f.ftpWatts.value) patch.ftpWatts = Number(f.ftpWatts.value);
    try {
      await api("/api/users/me", { method: "PATCH", body: patch });
      status.textContent = "Saved";
      await loadProfile();
    } catch (err) {
      status.textContent = err.message;
    }
  };

  const keys = document.getElementById("keys");
  async function loadKeys() {
    const answer = await api("/api/users/me/api-keys");
    keys.replaceChildren(...answer.apiKeys.map((k) => {
      const revoke = el("button", { type: "button", class: "danger" }, "Revoke");
      revoke.onclick = async () => {
        if (!confirm(`Revoke the key "${k.name}"? Devices using it stop working.`)) return;
        await api(`/api/users/me/api-keys/${k.id}`, { method: "DELETE" });
        await loadKeys();
      };
      const created = new Date(k.createdAt).toLocaleDateString();
      return el("li", {}, `${k.name} · ${k.prefix}… · created ${created} `, revoke);
    }));
  }
  const newKey = document.getElementById("new-key");
  newKey.onsubmit = async (e) => {
    e.preventDefault();
    try {
      const created = await api("/api/users/me/api-keys", {
        method: "POST",
        body: { name: newKey.elements.keyName.value },
      });
      const shown = document.getElementById("key-shown");
      shown.hidden = false;
      shown.replaceChildren(
        "Your new key, shown only now (copy it): ",
        el("code", {}, created.key),
      );
      newKey.reset();
      await loadKeys();
    } catch (err) {
      status.textContent = err.message;
    }
  };
  await loadProfile().catch((err) => (status.textContent = err.message));
  await loadKeys().catch((err) => (status.textContent = err.message));
})();

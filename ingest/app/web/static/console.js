// The console's only script: posts forms as JSON with the CSRF header, offers roster
// names while the clerk types a unit, filters the paper list, follows reparse progress.
// Every text from the server is set with textContent, never as HTML.
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.getAttribute("content") : "";
  const FLASH_KEY = "kaohe-flash";

  function flash(text, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "flash error" : "flash ok";
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function formObject(form) {
    const out = {};
    for (const [key, value] of new FormData(form).entries()) {
      if (key === "csrf" || key === "next") continue;
      if (key === "annexes") {
        (out.annexes = out.annexes || []).push(Number(value));
      } else if (key === "undo") {
        out.undo = true;
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  async function post(form) {
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => (b.disabled = true));
    try {
      const res = await fetch(form.getAttribute("action"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(formObject(form)),
      });
      let data = {};
      try { data = await res.json(); } catch (e) { data = {}; }
      if (res.status === 401) { window.location.assign("/login"); return; }
      if (!res.ok) {
        let text = data.error || "操作失败（" + res.status + "）";
        if (data.candidates && data.candidates.length) text += "。可选：" + data.candidates.join("、");
        flash(text, true);
        return;
      }
      if (form.id === "reparse-form") { watchReparse(); flash(data.message || "已开始", false); return; }
      sessionStorage.setItem(FLASH_KEY, data.message || "已完成");
      window.location.reload();
    } catch (e) {
      flash("网络错误，请稍后重试", true);
    } finally {
      buttons.forEach((b) => (b.disabled = false));
    }
  }

  function wireForms() {
    document.querySelectorAll("form.js-action").forEach((form) => {
      form.addEventListener("submit", (ev) => { ev.preventDefault(); post(form); });
    });
  }

  function wireUnitInputs() {
    document.querySelectorAll("input.unit-input").forEach((input) => {
      const list = document.getElementById(input.getAttribute("list"));
      let timer = 0;
      input.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(async () => {
          const q = input.value.trim();
          if (!q || !list) return;
          const res = await fetch("/api/units?q=" + encodeURIComponent(q), { credentials: "same-origin" });
          if (!res.ok) return;
          const data = await res.json();
          list.replaceChildren(...data.units.map((u) => {
            const opt = document.createElement("option");
            opt.value = u.name;
            if (u.aliases.length) opt.label = u.aliases.join("、");
            return opt;
          }));
        }, 120);
      });
    });
  }

  function wireFilter() {
    const box = document.getElementById("unit-filter");
    if (!box) return;
    box.addEventListener("input", () => {
      const q = box.value.trim();
      document.querySelectorAll(".unit-row").forEach((row) => {
        row.hidden = q !== "" && !row.dataset.unit.includes(q);
      });
    });
  }

  async function watchReparse() {
    const bar = document.getElementById("reparse-bar");
    const text = document.getElementById("reparse-text");
    if (!bar || !text) return;
    const res = await fetch("/api/reparse", { credentials: "same-origin" });
    if (!res.ok) return;
    const job = await res.json();
    bar.max = job.total || 1;
    bar.value = job.done;
    if (job.running) {
      text.textContent = "正在重新解析：" + job.done + "/" + job.total;
      setTimeout(watchReparse, 1000);
    } else {
      text.textContent = job.error ? job.error : "重新解析已完成：" + job.done + "/" + job.total;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const message = sessionStorage.getItem(FLASH_KEY);
    if (message) { sessionStorage.removeItem(FLASH_KEY); flash(message, false); }
    wireForms();
    wireUnitInputs();
    wireFilter();
    const reparse = document.getElementById("reparse");
    if (reparse && reparse.dataset.running === "true") watchReparse();
  });
})();

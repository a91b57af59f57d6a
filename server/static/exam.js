// The exam page: one item at a time from the JSON API.  The server holds all state (current
// item, deadline, answers), so a reload or a new tab simply asks it again.
(() => {
  "use strict";
  const root = document.getElementById("exam");
  const el = (id) => document.getElementById(id);
  const msg = (name) => root.dataset["msg" + name];
  let item = null;          // the item shown
  let deadline = null;      // performance.now() at which the server's remaining time hits 0
  let busy = false;
  let warned = Infinity;    // the last time warning given, in seconds left
  const LETTERS = "ABCDEFGHI";
  const WARNINGS = [300, 60];  // seconds left at which the page warns, visibly and aloud

  const headers = { "Content-Type": "application/json", "Accept": "application/json" };

  function showResult() { window.location.assign(root.dataset.result); }

  function render(data) {
    if (!data.item) { showResult(); return; }
    item = data.item;
    deadline = performance.now() + item.seconds_left * 1000;
    // The item's pictures, by position: their addresses name the attempt and the item only.
    const options = window.SmartcatItem.render(item, {
      src: (n) => `${root.dataset.images}/${item.item_id}/images/${n}`,
      alt: (n) => fill(msg("Image"), { n }),
    });
    el("progress-pos").textContent = item.position;
    el("progress-max").textContent = item.max_items;
    // A CAT may end before its maximum: say so instead of promising "n of max".
    const fixed = item.min_items >= item.max_items;
    el("progress-early").hidden = fixed;
    el("progress-of").textContent = fixed ? msg("Of") : msg("OfAtMost");
    el("progress-bar").max = item.max_items;
    el("progress-bar").value = item.position - 1;
    options.forEach((li, i) => li.addEventListener("click", () => answer(i)));
    const n = item.options.length;
    el("hint").textContent = fill(msg("Hint"), { last_digit: n, last_letter: LETTERS[n - 1] });
    el("save-status").textContent = "";
    busy = false;
    // The new question is where a person (and a screen reader) goes on from.
    el("stem").focus();
  }

  async function load() {
    const response = await fetch(root.dataset.api, { headers, credentials: "same-origin" });
    if (response.status === 401) { window.location.reload(); return; }
    render(await response.json());
  }

  async function answer(choice) {
    if (busy || !item) return;
    busy = true;
    const li = el("options").children[choice];
    if (li) { li.classList.add("chosen"); li.setAttribute("aria-checked", "true"); }
    el("save-status").textContent = msg("Saving");
    for (let tries = 0; ; tries++) {
      try {
        const response = await fetch(root.dataset.answer, {
          method: "POST", headers, credentials: "same-origin",
          body: JSON.stringify({ item_id: item.item_id, choice }),
        });
        if (response.ok || response.status === 409) {
          // 409: the deadline passed or the item was answered from another tab; either way
          // the server knows best what comes next.
          el("save-status").textContent = response.ok ? msg("Saved") : "";
          await load();
          return;
        }
        if (response.status < 500) { await load(); return; }
      } catch (e) { /* network down: retry below */ }
      el("save-status").textContent = msg("Retry");
      await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** tries, 5000)));
    }
  }

  function tick() {
    if (deadline === null) return;
    const left = Math.max(0, Math.round((deadline - performance.now()) / 1000));
    const m = Math.floor(left / 60), s = left % 60;
    el("countdown").textContent = `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    el("countdown").classList.toggle("low", left <= 60);
    const due = WARNINGS.filter((w) => left <= w && w < warned);
    if (due.length && left > 0) {
      warned = Math.min(...due);
      el("time-warning").textContent = fill(msg("Warning"), { minutes: Math.ceil(left / 60) });
    }
    // At zero the server ends the attempt.  An answer still on its way is taken within the
    // grace and its reply brings the result: asking for the item now would end the attempt
    // before that answer arrives.
    if (left === 0) { deadline = null; setTimeout(() => { if (!busy) load(); }, 1000); }
  }

  // A message of the page with {name} filled in.
  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, (all, name) => (name in values ? values[name] : all));
  }

  async function postFinish(confirm) {
    const response = await fetch(root.dataset.finish, {
      method: "POST", headers, credentials: "same-origin",
      body: JSON.stringify(confirm ? { confirm: true } : {}),
    });
    return { status: response.status, body: await response.json().catch(() => ({})) };
  }

  document.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey || !item) return;
    const focused = document.activeElement;
    const onOption = focused && focused.dataset.choice !== undefined;
    if ((event.key === "Enter" || event.key === " ") && onOption) {
      event.preventDefault();
      answer(Number(focused.dataset.choice));
      return;
    }
    // Arrows move the focus between the options, around the ends; only Enter, Space or a
    // click answers, since an answer is saved at once and a radio that checked on arrowing
    // would send one for every option passed on the way.
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key];
    if ((step || event.key === "Home" || event.key === "End") && onOption) {
      event.preventDefault();
      const options = [...el("options").children];
      const n = options.length;
      const at = Number(focused.dataset.choice);
      const next = step ? (at + step + n) % n : (event.key === "Home" ? 0 : n - 1);
      options.forEach((li, i) => { li.tabIndex = i === next ? 0 : -1; });
      options[next].focus();
      return;
    }
    if (event.key.length !== 1) return;
    const key = event.key.toUpperCase();
    let choice = "123456789".indexOf(key);
    if (choice < 0) choice = LETTERS.indexOf(key);
    if (choice >= 0 && choice < item.options.length) { event.preventDefault(); answer(choice); }
  });

  // Leaving a running exam asks first: its clock keeps running.
  document.querySelectorAll("form.logout").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(msg("Leave"))) event.preventDefault();
    });
  });

  // Finish asks first, and says exactly what happens: with fewer answers than the exam
  // needs, the missing ones count as wrong.  The server checks the same numbers and asks
  // again (409 with its own message) should they have changed meanwhile.
  el("finish-button").addEventListener("click", async () => {
    const answered = item ? item.answered : 0;
    const needed = Number(root.dataset.minItems);
    const short = answered < needed;
    const text = short
      ? fill(msg("Short"), { answered, min_items: needed, missing: needed - answered })
      : fill(msg("Confirm"), { answered });
    if (!window.confirm(text)) return;
    let reply = await postFinish(short);
    if (reply.status === 409 && /needs_confirmation$/.test(reply.body.code || "")) {
      if (!window.confirm(reply.body.message)) return;
      reply = await postFinish(true);
    }
    showResult();
  });

  setInterval(tick, 250);
  load();
})();

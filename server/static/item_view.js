// One item as a participant sees it: the stem, its pictures and the options.  The exam page
// (exam.js) and the writer's preview (preview.js) both draw an item with this function, so
// the preview shows exactly what the exam shows.  The HTML comes from the server, rendered
// from the writer's Markdown and sanitised there (item_bank/item_text.py).
(() => {
  "use strict";
  const el = (id) => document.getElementById(id);

  // `item`: stem_html, options_html (in the order shown), images (how many);
  // `picture`: src(n) and alt(n) of picture n (from 1).
  function render(item, picture) {
    el("stem").innerHTML = item.stem_html;
    const pictures = el("stem-images");
    pictures.replaceChildren();
    for (let n = 1; n <= (item.images || 0); n += 1) {
      const img = document.createElement("img");
      img.src = picture.src(n);
      img.alt = picture.alt(n);
      pictures.appendChild(img);
    }
    const list = el("options");
    list.replaceChildren();
    item.options_html.forEach((markup, i) => {
      const li = document.createElement("li");
      li.innerHTML = markup;
      li.dataset.choice = String(i);
      // One tab stop for the group (the ARIA radio group pattern); arrows move inside it.
      li.tabIndex = i === 0 ? 0 : -1;
      li.setAttribute("role", "radio");
      li.setAttribute("aria-checked", "false");
      list.appendChild(li);
    });
    return [...list.children];
  }

  window.SmartcatItem = { render };
})();

// The writer's preview: the item drawn by the exam page's own function (item_view.js) from
// the same fields the exam API sends, with the editor's pictures.
(() => {
  "use strict";
  const root = document.getElementById("preview");
  const item = JSON.parse(root.dataset.item);
  const sources = JSON.parse(root.dataset.pictures);
  const alt = root.dataset.msgImage;
  window.SmartcatItem.render(item, {
    src: (n) => sources[n - 1],
    alt: (n) => alt.replace("{n}", String(n)),
  });
})();

// Drop a file on the import form: it goes into the form's file field. Without JavaScript
// the file field works as it is.
for (const zone of document.querySelectorAll("[data-drop-target]")) {
  const input = document.getElementById(zone.dataset.dropTarget);
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer.files.length) { input.files = event.dataTransfer.files; }
  });
}

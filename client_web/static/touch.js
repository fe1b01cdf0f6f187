// A finger dragged up or down the page scrolls what is under it, as a mouse wheel would:
// xterm.js sends wheel events on to the app (tables, lists), but not touch moves.
(() => {
  const ROW_PX = 20;
  let last = null;
  document.addEventListener("touchstart", (event) => {
    last = event.touches.length === 1 ? event.touches[0].clientY : null;
  }, { passive: true });
  document.addEventListener("touchmove", (event) => {
    if (last === null) return;
    const touch = event.touches[0];
    const rows = Math.trunc((last - touch.clientY) / ROW_PX);
    if (rows === 0) return;
    last -= rows * ROW_PX;
    const screen = document.querySelector(".xterm-screen");
    for (let i = 0; i < Math.abs(rows); i++) {
      screen.dispatchEvent(new WheelEvent("wheel", {
        deltaY: Math.sign(rows) * ROW_PX, deltaMode: 0, clientX: touch.clientX,
        clientY: touch.clientY, bubbles: true, cancelable: true,
      }));
    }
  }, { passive: true });
  document.addEventListener("touchend", () => { last = null; }, { passive: true });
})();

// A finger dragged across the page scrolls what it went down on, as a mouse wheel would:
// xterm.js passes wheel events on to the app, but not touch moves. Up and down scroll
// tables and lists; left and right scroll the footer's keys, wider than a phone (Textual's
// footer scrolls sideways with the wheel; xterm.js passes no sideways or Shift wheel).
(() => {
  const STEP_PX = 20;
  let start = null; // where the finger went down: what it scrolls, wherever it moves
  let last = null;

  function wheel(deltaY) {
    document.querySelector(".xterm-screen").dispatchEvent(new WheelEvent("wheel", {
      deltaY, deltaMode: 0, clientX: start.x, clientY: start.y,
      bubbles: true, cancelable: true,
    }));
  }

  document.addEventListener("touchstart", (event) => {
    const touch = event.touches[0];
    last = event.touches.length === 1 ? { x: touch.clientX, y: touch.clientY } : null;
    start = last && { ...last };
  }, { passive: true });

  document.addEventListener("touchmove", (event) => {
    if (last === null) return;
    const touch = event.touches[0];
    const down = Math.trunc((last.y - touch.clientY) / STEP_PX);
    const right = Math.trunc((last.x - touch.clientX) / STEP_PX);
    const steps = down || right; // up or down first, else sideways
    for (let i = 0; i < Math.abs(steps); i++) wheel(Math.sign(steps) * STEP_PX);
    last.y -= down * STEP_PX;
    last.x -= right * STEP_PX;
  }, { passive: true });

  document.addEventListener("touchend", () => { last = null; }, { passive: true });
})();

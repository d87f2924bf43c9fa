// What jsdom lacks and the Training tab's charts touch (App.test.js shows that tab). No ResizeObserver: a chart's
// width stays 0 and LineChart draws nothing (jsdom has no canvas either); uPlot itself runs in real Chromium in
// tests/frontend/test_browser.py. No matchMedia (uPlot asks it for the pixel ratio on import, LineChart for the colour
// scheme): a light screen that never changes.
window.matchMedia ??= (query) => ({ matches: false, media: query, addEventListener() {}, removeEventListener() {} });
window.ResizeObserver ??= class {
  observe() {}
  unobserve() {}
  disconnect() {}
};

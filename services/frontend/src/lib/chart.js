// Scaling helpers for the small SVG charts (no chart library: a few paths are all we need).

export function extent(values) {
  if (values.length === 0) return [0, 1];
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  return [lo, hi];
}

export function scale([d0, d1], [r0, r1]) {
  return (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
}

/** SVG path "M x y L x y ..." for points [{x, y}] inside a width x height box with padding. */
export function linePath(points, width, height, pad = 24) {
  if (points.length === 0) return "";
  const sx = scale(extent(points.map((p) => p.x)), [pad, width - pad]);
  const sy = scale(extent(points.map((p) => p.y)), [height - pad, pad]);
  return points.map((p, i) => `${i ? "L" : "M"}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join(" ");
}

/** Scaled circle positions, for markers. */
export function markers(points, width, height, pad = 24) {
  const sx = scale(extent(points.map((p) => p.x)), [pad, width - pad]);
  const sy = scale(extent(points.map((p) => p.y)), [height - pad, pad]);
  return points.map((p) => ({ cx: sx(p.x), cy: sy(p.y), ...p }));
}

import { describe, expect, it } from "vitest";
import { extent, linePath, markers, scale } from "./chart.js";

describe("chart scaling", () => {
  it("pads a flat series so it still has a range", () => {
    expect(extent([2, 2])).toEqual([1, 3]);
    expect(extent([])).toEqual([0, 1]);
    expect(extent([3, 1, 2])).toEqual([1, 3]);
  });

  it("maps the domain onto the range linearly", () => {
    const s = scale([0, 10], [100, 200]);
    expect(s(0)).toBe(100);
    expect(s(5)).toBe(150);
    expect(s(10)).toBe(200);
  });

  it("draws a path from the lowest y at the bottom to the highest at the top", () => {
    const path = linePath([{ x: 1, y: 2.0 }, { x: 2, y: 1.0 }], 200, 100, 10);
    expect(path).toBe("M10.0 10.0 L190.0 90.0");
    expect(linePath([], 200, 100)).toBe("");
  });

  it("places one marker per point", () => {
    const dots = markers([{ x: 1, y: 1 }, { x: 2, y: 3 }, { x: 3, y: 2 }], 100, 100, 0);
    expect(dots.map((d) => [d.cx, d.cy])).toEqual([[0, 100], [50, 0], [100, 50]]);
  });
});

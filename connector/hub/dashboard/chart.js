// @ts-check
import { uPlot } from './vendor.js';
import { el } from './format.js';

/** How much of a series a chart shows: the last minutes, as the hub keeps them. */
const WINDOW_SECONDS = 10 * 60;

/** A live line chart of one numeric telemetry series (uPlot), appended to as values arrive. */
export class SeriesChart {
  /**
   * @param {string} title
   * @param {string} unit
   * @param {Array<[number, number]>} points `[ms since the epoch, value]`, oldest first
   */
  constructor(title, unit, points) {
    /** @type {number[]} */
    this.xs = points.map(([ts]) => ts / 1000);
    /** @type {number[]} */
    this.ys = points.map(([, value]) => value);
    this.figure = el('figure', { class: 'chart', 'data-path': title, 'data-points': this.xs.length });
    this.figure.append(el('figcaption', {}, [title, unit ? ` (${unit})` : '']));
    this.plot = new uPlot(
      {
        width: 560,
        height: 200,
        scales: { x: { time: true } },
        series: [
          {},
          {
            label: title,
            stroke: '#2563eb',
            width: 2,
            points: { show: true, size: 4 },
            value: (_u, v) => (v === null ? '—' : `${v}${unit ? ` ${unit}` : ''}`),
          },
        ],
        axes: [{}, { size: 60 }],
        legend: { live: true },
      },
      [this.xs, this.ys],
      this.figure,
    );
  }

  /** @param {number} ts ms since the epoch @param {number} value */
  push(ts, value) {
    const x = ts / 1000;
    if (this.xs.length > 0 && x < this.xs[this.xs.length - 1]) return;
    this.xs.push(x);
    this.ys.push(value);
    while (this.xs.length > 2 && this.xs[0] < x - WINDOW_SECONDS) {
      this.xs.shift();
      this.ys.shift();
    }
    this.plot.setData([this.xs, this.ys]);
    this.figure.setAttribute('data-points', String(this.xs.length));
  }

  destroy() {
    this.plot.destroy();
  }
}

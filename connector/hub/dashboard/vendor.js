// @ts-check
// The browser loads uPlot (https://github.com/leeoniya/uPlot) from the hub, which serves it from node_modules;
// the type checker takes its types from the same package.
// @ts-expect-error: a URL the browser resolves, not a module path the checker can follow
import uPlotModule from '/vendor/uplot/uPlot.esm.js';

/** @type {typeof import('uplot')} */
export const uPlot = uPlotModule;

/** Apache ECharts, tree-shaken: the core, the line and bar charts and the components it needs, drawn as SVG.
 * Imported only by `Chart` (dynamically), so it is its own chunk (`charts-vendor`, see vite.config.ts)
 * that loads with the first chart on a page — never with the initial bundle. A report that needs
 * another chart type or component adds it here. */
import { BarChart, LineChart, type BarSeriesOption, type LineSeriesOption } from 'echarts/charts';
import { GridComponent, TooltipComponent, type GridComponentOption, type TooltipComponentOption } from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([LineChart, BarChart, GridComponent, TooltipComponent, SVGRenderer]);

export type ChartOption = echarts.ComposeOption<LineSeriesOption | BarSeriesOption | GridComponentOption | TooltipComponentOption>;
export type ChartInstance = echarts.EChartsType;

export function init(element: HTMLElement, locale: string): ChartInstance {
  // ECharts' own locale covers only its built-in texts (none shown here); numbers and dates are
  // formatted by `Chart` through Intl in the UI's language.
  return echarts.init(element, undefined, { renderer: 'svg', locale: locale.startsWith('zh') ? 'ZH' : 'EN' });
}

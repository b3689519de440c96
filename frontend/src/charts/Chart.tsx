/** A line chart over days, drawn by Apache ECharts loaded on first use (see `echarts.ts`). Locale-aware
 * (axis dates and numbers through Intl in the UI's language), resizes with its box, and readable without
 * the picture: the figure has a summary as its accessible name and the data as a visually hidden table.
 * Reports reuse it; add chart types to `echarts.ts`, not another chart library. */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { chartFormat } from './format';
import type { ChartInstance, ChartOption } from './echarts';

export interface ChartSeries {
  name: string;
  values: number[];
  /** Fill the area under the line. */
  area?: boolean;
  color?: string;
}

interface ChartProps {
  /** `YYYY-MM-DD`, one per value. */
  days: string[];
  series: ChartSeries[];
  /** What the chart shows in a sentence (its accessible name). */
  summary: string;
  height?: number;
  testId?: string;
}

const COLORS = ['#4f46e5', '#0e9384', '#b54708', '#d92d20'];

export function Chart({ days, series, summary, height = 220, testId }: ChartProps) {
  const { t, i18n } = useTranslation();
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<ChartInstance | null>(null);
  const [failed, setFailed] = useState<Error | null>(null);
  const [ready, setReady] = useState(false);
  const fmt = useMemo(() => chartFormat(i18n.language), [i18n.language]);

  const option = useMemo<ChartOption>(
    () => ({
      animationDuration: 300,
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      tooltip: {
        trigger: 'axis',
        valueFormatter: (value) => (typeof value === 'number' ? fmt.number(value) : String(value ?? '')),
        formatter: (params) => {
          const items = Array.isArray(params) ? params : [params];
          const first = items[0];
          const head = first ? fmt.longDay(days[first.dataIndex] ?? '') : '';
          const lines = items.map((p) => `${p.marker ?? ''} ${escapeHtml(p.seriesName ?? '')}: <b>${fmt.number(Number(p.value))}</b>`);
          return [escapeHtml(head), ...lines].join('<br/>');
        },
      },
      xAxis: {
        type: 'category',
        data: days,
        boundaryGap: false,
        axisLabel: { formatter: (value: string) => fmt.axisDay(value), hideOverlap: true, color: '#5d6679' },
        axisLine: { lineStyle: { color: '#cdd2db' } },
        axisTick: { show: false },
      },
      yAxis: {
        type: 'value',
        minInterval: 1,
        axisLabel: { formatter: (value: number) => fmt.compact(value), color: '#5d6679' },
        splitLine: { lineStyle: { color: '#e2e5eb' } },
      },
      series: series.map((s, i) => ({
        type: 'line',
        name: s.name,
        data: s.values,
        smooth: false,
        showSymbol: days.length <= 2,
        symbolSize: 6,
        lineStyle: { width: 2 },
        color: s.color ?? COLORS[i % COLORS.length],
        areaStyle: s.area ? { opacity: 0.12 } : undefined,
      })),
    }),
    [days, series, fmt],
  );

  // Create the chart once the library has loaded; dispose of it with the component.
  useEffect(() => {
    let live = true;
    let observer: ResizeObserver | null = null;
    import('./echarts').then(
      ({ init }) => {
        if (!live || !box.current) return;
        chart.current = init(box.current, i18n.language);
        setReady(true);
        observer = new ResizeObserver(() => chart.current?.resize());
        observer.observe(box.current);
      },
      (err: unknown) => live && setFailed(err instanceof Error ? err : new Error(String(err))),
    );
    return () => {
      live = false;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = null;
      setReady(false);
    };
  }, [i18n.language]);

  useEffect(() => {
    if (ready) chart.current?.setOption(option, { notMerge: true });
  }, [ready, option]);

  return (
    <figure className="chart" data-testid={testId} data-ready={ready ? 'true' : 'false'}>
      <div ref={box} className="chart-canvas" style={{ height }} role="img" aria-label={summary} />
      {failed && (
        <p className="muted small" role="alert">
          {t('chart.failed')}
        </p>
      )}
      <table className="visually-hidden">
        <caption>{summary}</caption>
        <thead>
          <tr>
            <th scope="col">{t('chart.day')}</th>
            {series.map((s) => (
              <th key={s.name} scope="col">
                {s.name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {days.map((day, i) => (
            <tr key={day}>
              <th scope="row">{fmt.longDay(day)}</th>
              {series.map((s) => (
                <td key={s.name}>{fmt.number(s.values[i] ?? 0)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

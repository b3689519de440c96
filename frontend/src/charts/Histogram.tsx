/** A bar chart of counts over labelled buckets (contacts per score level), drawn by the same lazily loaded
 * ECharts as `Chart`: locale-aware numbers, resizes with its box, and readable without the picture (the
 * summary is its accessible name, the counts a visually hidden table). */
import { useEffect, useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { chartFormat } from './format';
import type { ChartInstance, ChartOption } from './echarts';

interface HistogramProps {
  /** One per bar, e.g. "1" … "10". */
  labels: string[];
  values: number[];
  /** What the chart shows in a sentence (its accessible name). */
  summary: string;
  /** The buckets' column header in the data table ("Level"). */
  bucket: string;
  /** The values' column header ("Contacts"). */
  measure: string;
  height?: number;
  testId?: string;
}

export function Histogram({ labels, values, summary, bucket, measure, height = 200, testId }: HistogramProps) {
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
        axisPointer: { type: 'shadow' },
        formatter: (params) => {
          const first = (Array.isArray(params) ? params : [params])[0];
          if (!first) return '';
          return `${escapeHtml(bucket)} ${escapeHtml(labels[first.dataIndex] ?? '')}: <b>${fmt.number(Number(first.value))}</b>`;
        },
      },
      xAxis: {
        type: 'category',
        data: labels,
        axisLabel: { color: '#5d6679' },
        axisLine: { lineStyle: { color: '#cdd2db' } },
        axisTick: { show: false },
      },
      yAxis: {
        type: 'value',
        minInterval: 1,
        axisLabel: { formatter: (value: number) => fmt.compact(value), color: '#5d6679' },
        splitLine: { lineStyle: { color: '#e2e5eb' } },
      },
      series: [{ type: 'bar', name: measure, data: values, color: '#4f46e5', barMaxWidth: 36 }],
    }),
    [labels, values, bucket, measure, fmt],
  );

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
    <figure className="chart" data-testid={testId} data-ready={ready ? 'true' : 'false'} data-values={values.join(',')}>
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
            <th scope="col">{bucket}</th>
            <th scope="col">{measure}</th>
          </tr>
        </thead>
        <tbody>
          {labels.map((label, i) => (
            <tr key={label}>
              <th scope="row">{label}</th>
              <td>{fmt.number(values[i] ?? 0)}</td>
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

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Sample } from './stats-adapter.js';

interface Series {
  key: keyof Sample;
  label: string;
  stroke: string;
}

interface Props {
  id: string;
  title: string;
  series: Series[];
  samples: Sample[];
}

/** A live time-series chart (uPlot) of some of the samples' figures; its title names it for screen readers. */
export function Chart({ id, title, series, samples }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const data = (): uPlot.AlignedData => [
    samples.map((s) => s.t / 1000),
    ...series.map((x) => samples.map((s) => s[x.key] as number)),
  ];
  useEffect(() => {
    if (!box.current) return;
    const width = Math.max(280, Math.min(640, box.current.clientWidth || 600));
    plot.current = new uPlot(
      {
        width,
        height: 180,
        series: [{}, ...series.map((x) => ({ label: x.label, stroke: x.stroke, width: 2 }))],
        axes: [{}, { size: 40 }],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
        legend: { live: false },
      },
      data(),
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [series.map((x) => x.key).join()]);
  useEffect(() => {
    plot.current?.setData(data());
  });
  return (
    <figure class="chart" id={id}>
      <figcaption>{title}</figcaption>
      <div ref={box} role="img" aria-label={`${title}: chart of the last 15 minutes`} />
    </figure>
  );
}

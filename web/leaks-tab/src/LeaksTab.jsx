import React, { useEffect, useRef, useState } from "react";
import * as echarts from "echarts/core";
import { LineChart } from "echarts/charts";
import { GridComponent, TooltipComponent, MarkAreaComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([LineChart, GridComponent, TooltipComponent, MarkAreaComponent, SVGRenderer]);

const POLL_MS = 1000;
const COLORS = { pass: "#1b7f3b", leak: "#c62828", degraded: "#e65100", inconclusive: "#616161" };
const color = (verdict) => COLORS[verdict] || "#455a64";

function Chart({ title, cycles, values, warmup, testId }) {
  const box = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    chart.current = echarts.init(box.current, null, { renderer: "svg" });
    const resize = () => chart.current && chart.current.resize();
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      chart.current.dispose();
    };
  }, []);
  useEffect(() => {
    chart.current.setOption({
      animation: false,
      grid: { left: 48, right: 12, top: 28, bottom: 24 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: cycles, name: "cycle" },
      yAxis: { type: "value", scale: true },
      series: [{
        type: "line", data: values, showSymbol: true, symbolSize: 4,
        markArea: warmup ? { silent: true, itemStyle: { color: "rgba(0,0,0,0.06)" },
                             data: [[{ xAxis: cycles[0] }, { xAxis: cycles[Math.min(warmup, cycles.length) - 1] }]] } : undefined,
      }],
    });
  }, [title, cycles, values, warmup]);
  return (
    <figure style={{ margin: 0, minWidth: 0 }}>
      <figcaption style={{ fontSize: 13, fontWeight: 600 }}>{title}</figcaption>
      <div ref={box} data-testid={testId} style={{ width: "100%", height: 200 }} />
    </figure>
  );
}

function Table({ rows, columns }) {
  return (
    <div style={{ overflowX: "auto", maxWidth: "100%" }}>
      <table data-testid="leaks-table" style={{ borderCollapse: "collapse", fontSize: 13, width: "100%" }}>
        <thead>
          <tr>{columns.map((c) => <th key={c} style={{ textAlign: "left", padding: "4px 8px", borderBottom: "2px solid #ccc" }}>{c}</th>)}</tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.cycle}>
              {columns.map((c) => <td key={c} style={{ padding: "3px 8px", borderBottom: "1px solid #eee", whiteSpace: "nowrap" }}>{String(row[c] ?? "")}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export default function LeaksTab() {
  const [data, setData] = useState(null);
  const [allColumns, setAllColumns] = useState(false);
  useEffect(() => {
    let stop = false;
    const poll = async () => {
      try {
        const response = await fetch("./leaks/data");
        if (response.ok && !stop) setData(await response.json());
      } catch (error) {
        // the harness may be stopping; the next poll tells
      }
      if (!stop) setTimeout(poll, POLL_MS);
    };
    poll();
    return () => { stop = true; };
  }, []);
  if (!data || data.cycle === 0) {
    return <p data-testid="leaks-headline">Waiting for the first cycle: start a test, and each wave of sessions is followed by a sample of the server.</p>;
  }
  const of = data.planned ? ` of ${data.planned}` : "";
  const columns = allColumns ? data.all_columns : data.columns;
  return (
    <div style={{ maxWidth: "100%", overflowX: "hidden" }}>
      <section data-testid="leaks-headline" style={{ borderLeft: `8px solid ${color(data.verdict)}`, padding: "6px 14px", marginBottom: 12 }}>
        <div style={{ fontSize: 26, fontWeight: 800, color: color(data.verdict) }}>
          {data.verdict.toUpperCase()}{data.finished ? "" : " so far"}
        </div>
        <div>cycle {data.cycle}{of}{data.finished ? ", finished" : ""}</div>
        {data.findings.length > 0 && (
          <ul style={{ margin: "4px 0" }}>{data.findings.map((f) => <li key={f.name}><code>{f.name}</code> {f.text}</li>)}</ul>
        )}
        {data.report && <a href={data.report} target="_blank" rel="noreferrer">Open report.html</a>}
      </section>
      <div style={{ display: "grid", gridTemplateColumns: "repeat(auto-fit, minmax(320px, 1fr))", gap: 12, marginBottom: 12 }}>
        {data.charts.map((c) => (
          <Chart key={c.name} title={c.title} cycles={data.cycles} values={c.values} warmup={data.warmup} testId={`chart-${c.name}`} />
        ))}
      </div>
      <label style={{ fontSize: 13 }}>
        <input type="checkbox" checked={allColumns} onChange={(e) => setAllColumns(e.target.checked)} /> show every column
      </label>
      <Table rows={data.rows} columns={columns} />
    </div>
  );
}

/**
 * Where the time goes: onnxruntime's profiler, summed per op type, per layer and per phase.
 *
 * With profiling on (`EngineSettings.profile`, the directory the traces go to), every session the
 * runtime opens writes onnxruntime's Chrome-trace JSON (one file per session, `<graph>-<n>_<date>.json`)
 * when it is released. The graph builder names each node `<layer>/<phase>/<Op>#<n>` (phase: fwd,
 * bwd, update, loss; `GraphBuilder.scoped`), so a kernel's time can be attributed to the layer
 * and phase that emitted it. onnxruntime renames nodes it fuses (e.g. Conv + Relu): a fused node
 * keeps the name of one of its parts, and its time counts there.
 *
 * Times are the kernels' own durations (`<node>_kernel_time` events, µs) summed over every run of
 * every session of a purpose; `runMs` is the time of the runs themselves (`model_run` events), so
 * `runMs − kernelMs` is what the executor spent between kernels (allocation, scheduling).
 * onnxruntime stops recording after 1,000,000 events per session: profile a short run.
 */

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Time of one group (op type, layer or phase), in ms, over every run of the profiled sessions. */
export interface ProfileEntry {
  name: string;
  ms: number;
  /** Kernel launches counted. */
  calls: number;
}

/** The profile of every session of one purpose (graph name, e.g. "ResNet20.train"). */
export interface GraphProfile {
  graph: string;
  sessions: number;
  runs: number;
  /** Sum of the runs' wall times (`model_run`). */
  runMs: number;
  /** Sum of the kernels' times. */
  kernelMs: number;
  byOpType: ProfileEntry[];
  byLayer: ProfileEntry[];
  byPhase: ProfileEntry[];
}

export interface ProfileSummary {
  graphs: GraphProfile[];
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Phases the graph builder scopes node names with (graphs.ts). */
const PHASES = ['fwd', 'bwd', 'update', 'loss'] as const;
const KERNEL_SUFFIX = '_kernel_time';

/** A session's trace file prefix: `<dir>/<graph name>-<n>`; onnxruntime appends `_<date>.json`. */
export function profileFilePrefix(dir: string, graph: string, n: number): string {
  return join(dir, `${graph.replace(/[^A-Za-z0-9._-]/g, '_')}-${n}`);
}

/** The layer and phase a node name was emitted in ("s1b1.conv1/bwd/Conv#12" → s1b1.conv1, bwd). */
export function nodeScope(node: string): { layer: string; phase: string } {
  for (const phase of PHASES) {
    const at = node.lastIndexOf(`/${phase}/`);
    if (at > 0) return { layer: stripFusionPrefix(node.slice(0, at)), phase };
  }
  return { layer: '(other)', phase: '(other)' };
}

/** onnxruntime's transformers prefix some fused or inserted node names (e.g. "fused ..."). */
function stripFusionPrefix(name: string): string {
  return name.replace(/^(fused |Reorder_?)/i, '');
}

class Tally {
  private readonly m = new Map<string, ProfileEntry>();
  add(name: string, us: number): void {
    const e = this.m.get(name) ?? { name, ms: 0, calls: 0 };
    e.ms += us / 1000;
    e.calls += 1;
    this.m.set(name, e);
  }
  sorted(): ProfileEntry[] {
    return [...this.m.values()].sort((a, b) => b.ms - a.ms);
  }
}

/** The graph name a trace file belongs to (its name without `-<n>_<date>.json`). */
function graphOfFile(file: string): string {
  return file.replace(/-\d+_\d{4}-[-_\d]*\.json$/, '').replace(/\.json$/, '');
}

/** Read every trace in `dir` and sum it per graph: op types, layers, phases. */
export function summarizeProfiles(dir: string): ProfileSummary {
  if (!existsSync(dir)) return { graphs: [] };
  const groups = new Map<string, { sessions: number; runs: number; runMs: number; kernelMs: number; op: Tally; layer: Tally; phase: Tally }>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[];
    if (!Array.isArray(events)) continue;
    const graph = graphOfFile(file);
    let g = groups.get(graph);
    if (!g) {
      g = { sessions: 0, runs: 0, runMs: 0, kernelMs: 0, op: new Tally(), layer: new Tally(), phase: new Tally() };
      groups.set(graph, g);
    }
    g.sessions++;
    for (const e of events) {
      if (e.cat === 'Session' && e.name === 'model_run') {
        g.runs++;
        g.runMs += (e.dur ?? 0) / 1000;
      }
      if (e.cat !== 'Node' || !e.name?.endsWith(KERNEL_SUFFIX)) continue;
      const us = e.dur ?? 0;
      const { layer, phase } = nodeScope(e.name.slice(0, -KERNEL_SUFFIX.length));
      g.kernelMs += us / 1000;
      g.op.add(e.args?.op_name ?? '(unknown)', us);
      g.layer.add(layer, us);
      g.phase.add(phase, us);
    }
  }
  return {
    graphs: [...groups.entries()].map(([graph, g]) => ({
      graph,
      sessions: g.sessions,
      runs: g.runs,
      runMs: g.runMs,
      kernelMs: g.kernelMs,
      byOpType: g.op.sorted(),
      byLayer: g.layer.sorted(),
      byPhase: g.phase.sorted(),
    })),
  };
}

/** A plain-text report: per graph, the phases, the top op types and the top layers, with shares of kernel time. */
export function formatProfile(summary: ProfileSummary, top = 12): string {
  const lines: string[] = [];
  for (const g of summary.graphs) {
    const perRun = g.runs > 0 ? ` (${(g.runMs / g.runs).toFixed(2)} ms per run)` : '';
    lines.push(`${g.graph}: ${g.runs} runs in ${g.sessions} session(s), ${g.runMs.toFixed(1)} ms running${perRun}, ${g.kernelMs.toFixed(1)} ms in kernels`);
    const table = (title: string, entries: ProfileEntry[]): void => {
      lines.push(`  ${title}:`);
      for (const e of entries.slice(0, top)) {
        const share = g.kernelMs > 0 ? (100 * e.ms) / g.kernelMs : 0;
        lines.push(`    ${e.name.padEnd(28)} ${e.ms.toFixed(1).padStart(10)} ms ${share.toFixed(1).padStart(5)} %  ${String(e.calls).padStart(7)} calls`);
      }
      if (entries.length > top) {
        const rest = entries.slice(top).reduce((s, e) => s + e.ms, 0);
        lines.push(`    ${`(${entries.length - top} more)`.padEnd(28)} ${rest.toFixed(1).padStart(10)} ms`);
      }
    };
    table('by phase', g.byPhase);
    table('by op type', g.byOpType);
    table('by layer', g.byLayer);
  }
  return lines.join('\n');
}

import { z } from 'zod';

/** What one autocannon run measured (loadtest/cannon.ts): the figures budgets are checked against. */
export interface Measurement {
  connections: number;
  /** Seconds autocannon ran (the fixed duration, rounded up to its sampling tick). */
  seconds: number;
  /** 2xx answers. */
  ok: number;
  /** 2xx answers per second: throughput that a client could use. */
  rps: number;
  /** Over every answer received, whatever its status; null when there was none. */
  latencyMs: { mean: number | null; p50: number | null; p90: number | null; p99: number | null; p999: number | null;
    max: number | null };
  /** Connection errors and timeouts (autocannon counts a timeout as an error too). */
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
}

// Latency budgets from the command line: `--budget p99=20ms,errors=0` holds every model
// endpoint to them at every load level; `student:p99@32=25ms` narrows one to an endpoint and a level.

/** How each budgeted quantity is read from a measurement, and whether the limit is a ceiling or a floor. */
const METRICS = {
  p50: { bound: 'max', unit: 'ms', read: (m: Measurement) => m.latencyMs.p50 },
  p90: { bound: 'max', unit: 'ms', read: (m: Measurement) => m.latencyMs.p90 },
  p99: { bound: 'max', unit: 'ms', read: (m: Measurement) => m.latencyMs.p99 },
  'p99.9': { bound: 'max', unit: 'ms', read: (m: Measurement) => m.latencyMs.p999 },
  /** Anything that is not a 2xx answer: connection errors, timeouts, and non-2xx statuses. */
  errors: { bound: 'max', unit: '', read: (m: Measurement) => m.errors + m.non2xx },
  timeouts: { bound: 'max', unit: '', read: (m: Measurement) => m.timeouts },
  non2xx: { bound: 'max', unit: '', read: (m: Measurement) => m.non2xx },
  rps: { bound: 'min', unit: 'rps', read: (m: Measurement) => m.rps },
} as const satisfies Record<string, { bound: 'max' | 'min'; unit: string; read: (m: Measurement) => number | null }>;
type MetricName = keyof typeof METRICS;

const ITEM = /^(?:([a-z][\w-]*):)?(p50|p90|p99|p99\.9|errors|timeouts|non2xx|rps)(?:@(\d+))?=(\d+(?:\.\d+)?)(ms|s)?$/;

export const BudgetSchema = z.object({
  /** As written, for messages. */
  text: z.string(),
  /** Undefined: every model endpoint. */
  endpoint: z.string().optional(),
  /** Undefined: every load level measured. */
  connections: z.int().positive().optional(),
  metric: z.enum(Object.keys(METRICS) as [MetricName, ...MetricName[]]),
  /** In the metric's unit (latencies in ms). */
  limit: z.number().nonnegative(),
});
export type Budget = z.infer<typeof BudgetSchema>;

/**
 * `--budget` text → budgets. Throws naming every malformed item.
 *
 * @example
 *   parseBudgets('p99=20ms,errors=0,student:p99@32=25ms');
 */
export function parseBudgets(text: string): Budget[] {
  const problems: string[] = [];
  const budgets = text.split(',').map((part) => part.trim()).filter(Boolean).flatMap((part): Budget[] => {
    const match = ITEM.exec(part);
    if (!match) {
      problems.push(
        `"${part}" is not [endpoint:]metric[@connections]=value, metric one of ${Object.keys(METRICS).join(', ')}`,
      );
      return [];
    }
    const [, endpoint, metric, connections, value, unit] = match;
    if (unit && METRICS[metric as MetricName].unit !== 'ms') {
      problems.push(`"${part}": ${metric} is a count and takes no unit`);
    }
    const limit = Number(value) * (unit === 's' ? 1000 : 1);
    return [{ text: part, endpoint, connections: connections === undefined ? undefined : Number(connections),
      metric: metric as MetricName, limit }];
  });
  if (problems.length > 0) throw new Error(`--budget: ${problems.join('; ')}`);
  return budgets;
}

/** One measured cell a budget can apply to. */
export interface BudgetCell {
  endpoint: string;
  connections: number;
  measurement: Measurement;
}

export interface BudgetVerdict {
  budget: string;
  endpoint: string;
  connections: number;
  value: number | null;
  limit: number;
  ok: boolean;
}

/**
 * Every (budget, cell) pair it applies to, judged. A budget that matches no measured cell is a
 * failure too: a typo in an endpoint name must not pass silently.
 *
 * @example
 *   checkBudgets(parseBudgets('p99=20ms'), cells).filter((v) => !v.ok);
 */
export function checkBudgets(budgets: readonly Budget[], cells: readonly BudgetCell[]): BudgetVerdict[] {
  return budgets.flatMap((budget) => {
    const matching = cells.filter((cell) =>
      (budget.endpoint === undefined || budget.endpoint === cell.endpoint) &&
      (budget.connections === undefined || budget.connections === cell.connections)
    );
    if (matching.length === 0) {
      return [{ budget: budget.text, endpoint: budget.endpoint ?? '(any)', connections: budget.connections ?? 0,
        value: null, limit: budget.limit, ok: false }];
    }
    const { bound, read } = METRICS[budget.metric];
    return matching.map((cell) => {
      const value = read(cell.measurement);
      const ok = value !== null && (bound === 'max' ? value <= budget.limit : value >= budget.limit);
      return { budget: budget.text, endpoint: cell.endpoint, connections: cell.connections, value, limit: budget.limit,
        ok };
    });
  });
}

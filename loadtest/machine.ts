import { cpus } from 'node:os';

/** The machine a run happened on, as every report records it. */
export interface MachineRecord {
  cpus: number;
  cpuModel: string;
  loadavgAtStart: number[];
  node: string;
}

/** This machine now, with the load average taken when the run started. */
export function machineRecord(loadavgAtStart: number[]): MachineRecord {
  const cpu = cpus();
  return { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', loadavgAtStart, node: process.version };
}

// Its own module so that server.ts (one process) and workers.ts (many, node:cluster) can both name it without importing
// each other.

export interface ServerHandle {
  /** The bound port: the one asked for, or the one the OS picked for port 0. */
  port: number;
  host: string;
  /** The probe port (--health-port) as bound, when there is one. */
  healthPort?: number;
  /**
   * Drains (readiness off, in-flight requests finish), stops listening, frees the models; false when the drain timed
   * out.
   */
  close(): Promise<boolean>;
}

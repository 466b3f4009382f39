/** CPU use and uptime of one worker process, for its heartbeat (job counts come from its metrics). */
export class WorkerStatsCounter {
  private readonly startedAt = Date.now();
  private lastCpu = process.cpuUsage();
  private lastCpuAt = process.hrtime.bigint();

  get uptimeSec(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  /** CPU use of the whole process (all threads) since the previous call, in % of one core. */
  cpuPercent(): number {
    const now = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.lastCpu);
    const elapsedUs = Number(now - this.lastCpuAt) / 1000;
    this.lastCpu = process.cpuUsage();
    this.lastCpuAt = now;
    return elapsedUs > 0 ? (100 * (cpu.user + cpu.system)) / elapsedUs : 0;
  }
}

/** Counters of one worker process, reported in its heartbeat. */
export class WorkerStatsCounter {
  jobsDone = 0;
  /** Jobs that ended in failure; cancellations are counted apart, in `jobsCancelled`. */
  jobsFailed = 0;
  jobsCancelled = 0;
  private rtfSum = 0;
  private readonly startedAt = Date.now();
  private lastCpu = process.cpuUsage();
  private lastCpuAt = process.hrtime.bigint();

  recordDone(realTimeFactor: number): void {
    this.jobsDone++;
    this.rtfSum += realTimeFactor;
  }

  recordFailed(): void {
    this.jobsFailed++;
  }

  recordCancelled(): void {
    this.jobsCancelled++;
  }

  get meanRealTimeFactor(): number | null {
    return this.jobsDone > 0 ? this.rtfSum / this.jobsDone : null;
  }

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

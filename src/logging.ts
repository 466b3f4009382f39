import pino, { type Logger } from 'pino';

/** pino JSON logs to stdout; every line carries the process role. */
export function createLogger(level: string, role: string): Logger {
  return pino({ level, base: { pid: process.pid, role }, timestamp: pino.stdTimeFunctions.isoTime });
}

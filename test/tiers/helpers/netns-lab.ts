// Hosts on one machine: a network namespace per host, all on one bridge (itself in a "switch"
// namespace), plus a veth from the test's own namespace to that bridge so the test can reach
// the hosts' addresses. Names carry the test's pid (several engineers share this machine); the
// subnet is a private 10.213.x.0/24 picked from the pid too. Everything is removed by close().
import { type ChildProcess, spawn } from 'node:child_process';
import { onLogLines } from '../../helpers/processes.js';
import { must, run } from './nspawn.js';

export interface LabProcess {
  host: string;
  process: ChildProcess;
  /** stdout lines parsed as JSON (vcfarm's pino logs); other lines are dropped. */
  logs: Record<string, unknown>[];
  /** stderr and non-JSON stdout, for failure messages. */
  text: string[];
}

export class NetnsLab {
  readonly tag = `v${process.pid % 100_000}`;
  readonly subnet = `10.213.${20 + (process.pid % 200)}`;
  private readonly hosts = new Map<string, { ns: string; port: string; ip: string }>();
  private readonly procs: LabProcess[] = [];
  private readonly sw = `${this.tag}-sw`;
  private readonly uplink = `${this.tag}h`;

  /** The switch namespace with its bridge, and the test's own port on it (`subnet.1`). */
  async open(): Promise<void> {
    await must('ip', ['netns', 'add', this.sw]);
    await this.inSwitch('link', 'add', 'br0', 'type', 'bridge');
    await this.inSwitch('link', 'set', 'br0', 'up');
    await must('ip', [
      'link',
      'add',
      this.uplink,
      'type',
      'veth',
      'peer',
      'name',
      `${this.tag}hp`,
      'netns',
      this.sw,
    ]);
    await must('ip', ['addr', 'add', `${this.subnet}.1/24`, 'dev', this.uplink]);
    await must('ip', ['link', 'set', this.uplink, 'up']);
    await this.inSwitch('link', 'set', `${this.tag}hp`, 'master', 'br0', 'up');
  }

  /** A host: its own namespace, one port on the bridge, address `subnet.<n>`. */
  async addHost(name: string, n: number): Promise<string> {
    const ns = `${this.tag}-${name}`;
    const port = `${this.tag}${name}`.slice(0, 15);
    const ip = `${this.subnet}.${n}`;
    await must('ip', ['netns', 'add', ns]);
    this.hosts.set(name, { ns, port, ip });
    await must('ip', [
      'link',
      'add',
      port,
      'netns',
      this.sw,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      ns,
    ]);
    await this.inSwitch('link', 'set', port, 'master', 'br0', 'up');
    await must('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return ip;
  }

  /** The named network namespace of a host (for `systemd-nspawn --network-namespace-path`). */
  netns(host: string): string {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host ${host}`);
    return h.ns;
  }

  ip(host: string): string {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host ${host}`);
    return h.ip;
  }

  /** Cuts the host off the network (its port on the bridge down), or puts it back. */
  async setLink(host: string, up: boolean): Promise<void> {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host ${host}`);
    await this.inSwitch('link', 'set', h.port, up ? 'up' : 'down');
  }

  /** Runs `cmd` inside the host's namespace (`ip netns exec`); killed by close(). */
  spawn(host: string, cmd: string, args: string[], env: Record<string, string> = {}): LabProcess {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host ${host}`);
    const child = spawn('ip', ['netns', 'exec', h.ns, cmd, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p: LabProcess = { host, process: child, logs: [], text: [] };
    onLogLines(
      child.stdout,
      (entry) => p.logs.push(entry),
      (line) => p.text.push(line),
    );
    child.stderr?.on('data', (b: Buffer) => {
      p.text.push(...b.toString().split('\n').filter(Boolean));
      if (p.text.length > 500) p.text.splice(0, p.text.length - 500);
    });
    this.procs.push(p);
    return p;
  }

  /** Kills every process started here (SIGTERM, then SIGKILL after 10 s) and removes the namespaces. */
  async close(): Promise<void> {
    await Promise.all(
      this.procs.map(async ({ process: c }) => {
        if (c.exitCode !== null || c.signalCode !== null) return;
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    for (const { ns } of this.hosts.values()) await run('ip', ['netns', 'del', ns]);
    await run('ip', ['link', 'del', this.uplink]);
    await run('ip', ['netns', 'del', this.sw]);
  }

  private async inSwitch(...args: string[]): Promise<void> {
    await must('ip', ['-n', this.sw, ...args]);
  }
}

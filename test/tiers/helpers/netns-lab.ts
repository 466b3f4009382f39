// Hosts on one machine: a network namespace per host, all on one bridge (itself in a "switch"
// namespace), plus a veth from the test's own namespace to that bridge so the test can reach
// the hosts' addresses. Names carry the test's pid (several engineers share this machine); the
// subnet is a private 10.213.x.0/24 picked from the pid too. Everything is removed by close().
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { type StartedProcess, spawnProcess } from '../../helpers/processes.js';
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
  private readonly procs: StartedProcess[] = [];
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
    const p = spawnProcess('ip', ['netns', 'exec', h.ns, cmd, ...args], {
      name: `${host} ${path.basename(cmd)}`,
      env,
      graceMs: 10_000,
    });
    this.procs.push(p);
    return { host, process: p.process, logs: p.logs, text: p.text };
  }

  /** Kills every process started here (SIGTERM, then SIGKILL after 10 s) and removes the namespaces. */
  async close(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    for (const { ns } of this.hosts.values()) await run('ip', ['netns', 'del', ns]);
    await run('ip', ['link', 'del', this.uplink]);
    await run('ip', ['netns', 'del', this.sw]);
  }

  private async inSwitch(...args: string[]): Promise<void> {
    await must('ip', ['-n', this.sw, ...args]);
  }
}

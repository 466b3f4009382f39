// The ffmpeg launcher: a small process each pool thread starts once (workers/tasks/launcher.ts),
// which starts that thread's pitch-only ffmpeg processes for it. Starting a process forks the
// one that starts it, and a fork costs in proportion to the memory mapped: from the worker
// (about 185 MB of heap and ONNX Runtime sessions) about 6 ms of CPU in the worker and as much
// again in the child, for every job; from this process, a fraction of that.
//
// Requests come on stdin, one JSON object a line: {id, command, args} starts a process (stdio:
// ignore, pipe, pipe); {id, kill: true} SIGKILLs it. Replies go to stdout, one JSON object a
// line: {id, pid} once started, {id, out} and {id, err} with its output as text, then
// {id, exit, signal} once it has exited and its output ended; {id, error} if it could not start. When stdin ends (the thread or
// the whole worker is gone), every process started here is killed and this one exits.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

interface StartRequest {
  id: number;
  command: string;
  args: string[];
}
interface KillRequest {
  id: number;
  kill: true;
}

const children = new Map<number, ChildProcess>();
const send = (reply: object) => process.stdout.write(`${JSON.stringify(reply)}\n`);
// The thread went away while a reply was on its way: nothing is left to tell.
process.stdout.on('error', () => {});

function start({ id, command, args }: StartRequest): void {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.set(id, child);
  if (child.pid !== undefined) send({ id, pid: child.pid });
  child.stdout.setEncoding('utf8').on('data', (out: string) => send({ id, out }));
  child.stderr.setEncoding('utf8').on('data', (err: string) => send({ id, err }));
  child.on('error', (e) => send({ id, error: e.message }));
  child.on('close', (exit, signal) => {
    children.delete(id);
    send({ id, exit, signal });
  });
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
  const request = JSON.parse(line) as StartRequest | KillRequest;
  if ('kill' in request) children.get(request.id)?.kill('SIGKILL');
  else start(request);
}
for (const child of children.values()) child.kill('SIGKILL');
process.exit(0);

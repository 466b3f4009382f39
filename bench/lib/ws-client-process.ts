// A share of bench/ws-fanout.ts's clients in a process of its own (forked, commanded over IPC):
// one process on two busy cores cannot receive 10,000 events a second on time by itself.
import type WebSocket from 'ws';
import { connectMany } from './ws-client.js';

export type ClientCommand =
  | { cmd: 'connect'; urls: string[] }
  | { cmd: 'measure'; on: boolean }
  | { cmd: 'count' }
  | { cmd: 'report' }
  | { cmd: 'close' };

export interface ClientReply {
  cmd: ClientCommand['cmd'];
  retried?: number;
  count?: number;
  latencies?: number[];
  error?: string;
}

let sockets: WebSocket[] = [];
let measuring = false;
let retried = 0;
const latencies: number[] = [];

const reply = (r: ClientReply) => process.send?.(r);

process.on('message', (msg: ClientCommand) => {
  void (async () => {
    switch (msg.cmd) {
      case 'connect':
        sockets = await connectMany(
          msg.urls,
          (eventId) => {
            if (measuring) latencies.push(Date.now() - Number(eventId.split('-')[0]));
          },
          () => retried++,
        );
        return reply({ cmd: 'connect', retried });
      case 'measure':
        measuring = msg.on;
        return reply({ cmd: 'measure' });
      case 'count':
        return reply({ cmd: 'count', count: latencies.length });
      case 'report':
        return reply({ cmd: 'report', latencies });
      case 'close':
        for (const ws of sockets) ws.terminate();
        reply({ cmd: 'close' });
        process.disconnect?.();
    }
  })().catch((err: Error) => reply({ cmd: msg.cmd, error: err.message }));
});

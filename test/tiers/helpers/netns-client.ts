// A vcfarm HTTP client run inside a tier's private network namespace (`nsenter -t PID -n node
// netns-client.js COMMAND ...`): the booted stack is reachable only from there. Each command
// prints one JSON line; the tier test asserts on it.
import { writeFile } from 'node:fs/promises';
import { ApiClient } from '../../helpers/client.js';
import { TIER_TEST_USER, uploadsUntilRefused } from './uploads-loop.js';

const [command, base, ...args] = process.argv.slice(2);
const asUser = (key: string): ApiClient => new ApiClient(base, { token: key, userId: '' });
const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

async function main(): Promise<void> {
  switch (command) {
    case 'health': {
      const res = await fetch(`${base}/health`);
      print({ status: res.status, servedBy: res.headers.get('x-served-by') });
      return;
    }
    case 'user': {
      const [adminToken] = args;
      const res = await fetch(`${base}/api/admin/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(TIER_TEST_USER),
      });
      print({ status: res.status, body: await res.json() });
      return;
    }
    case 'submit': {
      const [key, file] = args;
      const client = asUser(key);
      const models = await client.request('GET', '/api/models');
      const voiceId: string | undefined = models.body.models?.[0]?.presets?.[0]?.id;
      if (!voiceId) throw new Error(`no preset voice: ${JSON.stringify(models.body)}`);
      const up = await client.upload(file);
      if (up.status !== 201) throw new Error(`upload: ${up.status} ${JSON.stringify(up.body)}`);
      const job = await client.createJob({ uploadId: up.body.upload.id, outputFormat: 'wav', voiceId });
      print({ jobId: job.id, voiceId });
      return;
    }
    case 'job': {
      const [key, id] = args;
      print(await asUser(key).job(id));
      return;
    }
    case 'wait': {
      const [key, id, timeoutMs, out] = args;
      const client = asUser(key);
      const job = await client.waitForJob(id, Number(timeoutMs));
      const result = job.state === 'completed' ? await client.download(id) : undefined;
      if (result) await writeFile(out, result.bytes);
      print({ job, resultStatus: result?.status, resultBytes: result?.bytes.length ?? 0 });
      return;
    }
    case 'uploads': {
      const [key, file, maxMs] = args;
      print({ requests: await uploadsUntilRefused(asUser(key), file, Number(maxMs)) });
      return;
    }
    default:
      throw new Error(`unknown command ${command}`);
  }
}

main().catch((err) => {
  process.stderr.write(`netns-client: ${(err as Error).stack}\n`);
  process.exit(1);
});

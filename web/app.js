// vcfarm page: anonymous session, upload, job creation, live progress over WebSocket.
// Server messages (src/progress/events.ts): snapshot | progress | stage | completed | failed | cancelled
// | error; each but error carries an eventId (a Redis stream id). The page keeps the highest one it saw
// and, after a reconnect, sends it back to get exactly what it missed (or a snapshot).

const TOKEN_KEY = 'vcfarm.token';
const $ = (sel) => document.querySelector(sel);
const jobsEl = $('#jobs');
const statusEl = $('#status');
const jobs = new Map();
const resultUrls = new Map();

function setStatus(text, isError = false) {
  statusEl.textContent = text;
  statusEl.className = isError ? 'error' : '';
}

async function api(path, options = {}) {
  const token = localStorage.getItem(TOKEN_KEY);
  const headers = { ...(options.headers || {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401 && path !== '/api/session') {
    localStorage.removeItem(TOKEN_KEY);
    await ensureSession();
    return api(path, options);
  }
  return res;
}

let creatingSession = null;
function ensureSession() {
  if (localStorage.getItem(TOKEN_KEY)) return Promise.resolve();
  // One request at a time, however many callers need a session at once.
  creatingSession ??= (async () => {
    const res = await fetch('/api/session', { method: 'POST' });
    if (!res.ok) throw new Error(`could not start a session (${res.status})`);
    const body = await res.json();
    localStorage.setItem(TOKEN_KEY, body.token);
  })().finally(() => {
    creatingSession = null;
  });
  return creatingSession;
}

function jobElement(id) {
  let el = jobsEl.querySelector(`[data-job-id="${CSS.escape(id)}"]`);
  if (!el) {
    el = $('#job-template').content.firstElementChild.cloneNode(true);
    el.dataset.jobId = id;
    el.querySelector('.job-cancel').addEventListener('click', () => cancelJob(id));
    jobsEl.prepend(el);
  }
  return el;
}

async function showResult(el, job) {
  const box = el.querySelector('.job-result');
  if (!box.hidden || !job.resultUrl) return;
  box.hidden = false;
  let url = resultUrls.get(job.id);
  if (!url) {
    // The result needs the bearer token, so fetch it and hand the audio element a blob URL.
    const res = await api(job.resultUrl);
    if (!res.ok) return;
    url = URL.createObjectURL(await res.blob());
    resultUrls.set(job.id, url);
  }
  el.querySelector('.job-audio').src = url;
  const a = el.querySelector('.job-download');
  a.href = url;
  a.download = `${(job.filename || 'audio').replace(/\.[^.]*$/, '')}-converted.${job.outputFormat}`;
}

function render(job) {
  jobs.set(job.id, job);
  const el = jobElement(job.id);
  el.dataset.state = job.state;
  el.querySelector('.job-name').textContent =
    job.kind === 'clone'
      ? `Voice "${job.filename || ''}": analysis`
      : `${job.filename || job.id} → ${job.outputFormat || ''}`;
  if (job.kind === 'clone' && job.state === 'completed') void loadVoices();
  const pct = Math.round((job.progress || 0) * 100);
  let label = job.state;
  if (job.state === 'active') label = `${job.stage || 'converting'} ${pct}%`;
  if (job.state === 'failed' && job.error) label = `failed: ${job.error.message}`;
  el.querySelector('.job-state').textContent = label;
  el.querySelector('.job-progress').value = job.progress || 0;
  if (job.state === 'completed') void showResult(el, job);
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** Mirrors applyServerMessage in src/progress/events.ts: a finished job stays finished. */
function applyEvent(msg) {
  if (msg.type === 'snapshot') {
    for (const job of [...msg.jobs].reverse()) {
      const known = jobs.get(job.id);
      if (known && FINAL.has(known.state) && !FINAL.has(job.state)) continue;
      render(job);
    }
    return;
  }
  if (!msg.jobId) return;
  const job = jobs.get(msg.jobId) || { id: msg.jobId, state: 'queued', progress: 0 };
  if (FINAL.has(job.state)) return;
  if (msg.type === 'progress') render({ ...job, state: 'active', progress: msg.progress, stage: msg.stage });
  else if (msg.type === 'stage') render({ ...job, state: 'active', stage: msg.stage });
  else if (msg.type === 'completed')
    render({ ...job, state: 'completed', progress: 1, resultUrl: msg.resultUrl });
  else if (msg.type === 'failed') render({ ...job, state: 'failed', error: msg.error });
  else if (msg.type === 'cancelled') render({ ...job, state: 'cancelled' });
}

/** Stream ids `<ms>-<seq>`, compared as numbers. */
function newerId(a, b) {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am !== bm ? am > bm : as > bs;
}

let lastEventId = '';
let attempt = 0;
function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/api/ws`);
  ws.addEventListener('open', () => {
    const token = localStorage.getItem(TOKEN_KEY);
    // After a reconnect, ask for what was missed; the first time, a snapshot.
    ws.send(JSON.stringify(lastEventId ? { type: 'resume', token, lastEventId } : { type: 'auth', token }));
  });
  ws.addEventListener('message', (e) => {
    const msg = JSON.parse(e.data);
    attempt = 0;
    if (msg.eventId && (!lastEventId || newerId(msg.eventId, lastEventId))) lastEventId = msg.eventId;
    applyEvent(msg);
  });
  ws.addEventListener('close', (e) => {
    if (e.code === 4401) {
      localStorage.removeItem(TOKEN_KEY);
      lastEventId = '';
    }
    // Jittered exponential back-off, so the clients of a stopped instance do not all come back at once.
    const delay = Math.min(10_000, 250 * 2 ** attempt++) * (0.5 + Math.random());
    setTimeout(() => ensureSession().then(connect, () => setTimeout(connect, delay)), delay);
  });
}

async function cancelJob(id) {
  const res = await api(`/api/jobs/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (res.ok) render((await res.json()).job);
}

$('#convert-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('#file').files[0];
  if (!file) return;
  const button = $('#submit');
  button.disabled = true;
  try {
    setStatus('Uploading…');
    const form = new FormData();
    form.append('file', file);
    const up = await api('/api/uploads', { method: 'POST', body: form });
    const upBody = await up.json();
    if (!up.ok) throw new Error(upBody.message || `upload failed (${up.status})`);
    const res = await api('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        uploadId: upBody.upload.id,
        pitchSemitones: Number($('#pitch').value) || 0,
        outputFormat: $('#format').value,
        ...($('#voice').value ? { voiceId: $('#voice').value, strength: Number($('#strength').value) } : {}),
      }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || `conversion request failed (${res.status})`);
    // Events may have overtaken this answer: keep their state, take the job's details from here.
    const known = jobs.get(body.job.id);
    render(
      known
        ? {
            ...body.job,
            state: known.state,
            progress: known.progress,
            stage: known.stage,
            resultUrl: known.resultUrl,
          }
        : body.job,
    );
    setStatus('Queued.');
  } catch (err) {
    setStatus(err.message, true);
  } finally {
    button.disabled = false;
  }
});

ensureSession()
  .then(() => {
    connect();
    return loadVoices();
  })
  .catch((err) => setStatus(err.message, true));

// Voices: the user's clones and the model's presets fill the target-voice menu.
async function loadVoices() {
  const res = await api('/api/voices');
  if (!res.ok) return;
  const { voices, presets } = await res.json();
  const select = $('#voice');
  const chosen = select.value;
  select.replaceChildren(new Option('None: pitch shift only', ''));
  for (const v of voices) {
    const label = v.state === 'ready' ? v.name : `${v.name} (${v.state})`;
    const opt = new Option(label, v.id);
    opt.disabled = v.state !== 'ready';
    select.append(opt);
  }
  for (const p of presets) select.append(new Option(`Preset: ${p.name}`, p.id));
  select.value = chosen;
  if (voices.some((v) => v.state === 'pending')) setTimeout(loadVoices, 1000);
}

$('#clone-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('#voice-file').files[0];
  if (!file) return;
  const status = $('#clone-status');
  const form = new FormData();
  form.append('name', $('#voice-name').value);
  form.append('file', file);
  status.textContent = 'Uploading…';
  const res = await api('/api/voices', { method: 'POST', body: form });
  const body = await res.json();
  status.textContent = res.ok ? `Analysing "${body.voice.name}"…` : body.message;
  await loadVoices();
});

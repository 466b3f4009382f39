// vcfarm page: anonymous session, upload, job creation, live progress over WebSocket.
// Server messages (src/progress/events.ts): snapshot | progress | stage | completed | failed | cancelled
// | error; each but error carries an eventId (a Redis stream id). The page keeps the highest one it saw
// and, after a reconnect, sends it back to get exactly what it missed (or a snapshot).
// Results play from signed links (the job view's resultUrl): the browser streams them with Range
// requests, nothing is downloaded into memory.

const TOKEN_KEY = 'vcfarm.token';
const $ = (sel) => document.querySelector(sel);
const jobsEl = $('#jobs');
const statusEl = $('#status');
const cloneStatusEl = $('#clone-status');
const jobs = new Map();
/** Voice names by id, for clone jobs. */
const voiceNames = new Map();
/** The plan's limits and usage (GET /api/workspace). */
let workspace = null;
/** An upload the server kept while its conversion was refused: the next conversion reuses it. */
let keptUpload = null;
/** The job whose progress the status line under the form follows, and the clone the clone status follows. */
let followedJob = null;
let followedClone = null;

function setStatus(el, text, isError = false) {
  el.textContent = text;
  el.className = isError ? 'error' : '';
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

/** The API's `{error, message}` as a sentence, or a generic one when the body is not JSON. */
async function errorText(res, what) {
  const body = await res.json().catch(() => null);
  return body?.message || `${what} failed (HTTP ${res.status})`;
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

// ---- sizes and limits ----

function formatBytes(n) {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 ? 1 : 0)} GB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(n % 1024 ** 2 ? 1 : 0)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

function formatSeconds(s) {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600} h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

function rateText({ max, windowSec }, noun) {
  const per =
    windowSec === 60 ? 'a minute' : windowSec === 3600 ? 'an hour' : `per ${formatSeconds(windowSec)}`;
  return `${max} ${noun} ${per}`;
}

async function loadWorkspace() {
  const res = await api('/api/workspace');
  if (!res.ok) return;
  workspace = await res.json();
  const { quota, rateLimits, plan } = workspace;
  $('#limits').textContent =
    `Your plan (${plan}): files up to ${formatBytes(quota.maxUploadBytes)} and ` +
    `${formatSeconds(quota.maxDurationSec)} long, ${quota.maxQueuedJobs} jobs waiting at most, ` +
    `${rateText(rateLimits.conversions, 'conversions')} and ${rateText(rateLimits.uploads, 'uploads')}.`;
}

function waitText(sec) {
  return sec >= 120 ? `${Math.ceil(sec / 60)} min` : `${Math.max(1, sec)} s`;
}

/** A rate class with nothing left in its window, as a sentence; undefined while some is left. */
function rateRefusal(cls, noun) {
  const r = workspace?.rateLimits?.[cls];
  if (!r || r.remaining === null || r.remaining > 0) return undefined;
  return `You have used your ${rateText(r, noun)}; try again in ${waitText(r.resetInSec)}.`;
}

/** What the API would refuse anyway, said before anything is uploaded; undefined when it may go. */
function refusalBeforeUpload(file, purpose = 'conversion') {
  if (!workspace) return undefined;
  const { quota, usage } = workspace;
  const rate =
    purpose === 'conversion'
      ? (rateRefusal('conversions', 'conversions') ?? rateRefusal('uploads', 'uploads'))
      : rateRefusal('voiceClones', 'voice clones');
  if (rate) return rate;
  if (file.size > quota.maxUploadBytes)
    return `${file.name} is ${formatBytes(file.size)}; your plan accepts files up to ${formatBytes(quota.maxUploadBytes)}.`;
  if (usage.bytes + file.size > quota.maxBytes)
    return `${file.name} does not fit: your workspace holds ${formatBytes(usage.bytes)} of ${formatBytes(quota.maxBytes)}.`;
  if (usage.queuedJobs >= quota.maxQueuedJobs)
    return `You already have ${usage.queuedJobs} jobs waiting, the most your plan allows; wait for one to finish.`;
  return undefined;
}

// ---- upload with progress ----

/** POST /api/uploads with XMLHttpRequest, the one browser API that reports upload progress. */
function uploadFile(file, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/uploads');
    xhr.setRequestHeader('authorization', `Bearer ${localStorage.getItem(TOKEN_KEY)}`);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // not JSON
      }
      resolve({ ok: xhr.status === 201, status: xhr.status, body });
    });
    xhr.addEventListener('error', () => resolve({ ok: false, status: 0, body: null }));
    const form = new FormData();
    form.append('file', file);
    xhr.send(form);
  });
}

function showKeptUpload() {
  const box = $('#kept-upload');
  box.hidden = !keptUpload;
  $('#submit').textContent = keptUpload ? `Convert ${keptUpload.filename}` : 'Upload and convert';
  if (keptUpload)
    $('#kept-upload-name').textContent =
      `${keptUpload.filename} (${formatBytes(keptUpload.bytes)}) is uploaded: converting again uses it, no new upload.`;
}

$('#file').addEventListener('change', () => {
  // A newly chosen file replaces the kept upload as the source (the kept one stays in the workspace).
  if ($('#file').files[0]) {
    keptUpload = null;
    showKeptUpload();
  }
});

$('#kept-upload-remove').addEventListener('click', async () => {
  if (!keptUpload) return;
  const res = await api(`/api/uploads/${encodeURIComponent(keptUpload.id)}`, { method: 'DELETE' });
  if (res.ok || res.status === 404) {
    setStatus(statusEl, `${keptUpload.filename} was removed from your workspace.`);
    keptUpload = null;
    showKeptUpload();
    void loadWorkspace();
  } else setStatus(statusEl, await errorText(res, 'removing the upload'), true);
});

// ---- jobs ----

function jobElement(id) {
  let el = jobsEl.querySelector(`[data-job-id="${CSS.escape(id)}"]`);
  if (!el) {
    el = $('#job-template').content.firstElementChild.cloneNode(true);
    el.dataset.jobId = id;
    el.querySelector('.job-cancel').addEventListener('click', () => cancelJob(id));
    el.querySelector('.job-again').addEventListener('click', () => convertAgain(id));
    el.querySelector('.job-result-retry').addEventListener('click', () => refreshResult(id));
    el.querySelector('.job-audio').addEventListener('error', () => showResultError(id));
    jobsEl.prepend(el);
  }
  return el;
}

function resultName(job) {
  return `${(job.filename || 'audio').replace(/\.[^.]*$/, '')}-converted.${job.outputFormat}`;
}

function showResult(el, job) {
  const box = el.querySelector('.job-result');
  box.hidden = false;
  const audio = el.querySelector('.job-audio');
  if (audio.getAttribute('src') !== job.resultUrl) audio.src = job.resultUrl;
  audio.setAttribute('aria-label', `${job.filename} result`);
  const a = el.querySelector('.job-download');
  a.href = job.resultUrl;
  a.download = resultName(job);
  a.textContent = 'Download';
  a.setAttribute('aria-label', `Download ${job.filename} result`);
}

function showResultError(id) {
  const el = jobElement(id);
  el.querySelector('.job-result-error').hidden = false;
  el.querySelector('.job-result-reason').textContent =
    'The result could not be loaded (its link may have expired, or the network failed).';
}

/** A fresh signed link for the job's result, then the player tries again. */
async function refreshResult(id) {
  const el = jobElement(id);
  const res = await api(`/api/jobs/${encodeURIComponent(id)}`);
  if (!res.ok) {
    el.querySelector('.job-result-reason').textContent = await errorText(res, 'loading the result');
    return;
  }
  const { job } = await res.json();
  el.querySelector('.job-result-error').hidden = true;
  el.querySelector('.job-audio').removeAttribute('src');
  render(job);
}

function stateText(job) {
  const pct = Math.round((job.progress || 0) * 100);
  if (job.kind === 'clone') {
    if (job.state === 'completed') return 'ready';
    if (job.state === 'failed') return `failed: ${job.error?.message || 'analysis failed'}`;
    if (job.state === 'cancelled') return 'cancelled';
    return job.state === 'active' ? `analysing ${pct}%` : 'waiting to be analysed';
  }
  if (job.state === 'active') return `${job.stage || 'converting'} ${pct}%`;
  if (job.state === 'failed') return `failed: ${job.error?.message || 'unknown error'}`;
  return job.state;
}

function render(job) {
  const before = jobs.get(job.id);
  // A finished job stays finished, whichever answer or event arrives last.
  if (before && FINAL.has(before.state) && !FINAL.has(job.state)) return;
  jobs.set(job.id, job);
  const el = jobElement(job.id);
  el.dataset.state = job.state;
  el.dataset.kind = job.kind || 'convert';
  const isClone = job.kind === 'clone';
  const name = isClone
    ? `Voice "${voiceNames.get(job.voiceId) || job.filename || ''}"`
    : `${job.filename || 'audio'} → ${(job.outputFormat || '').toUpperCase()}`;
  el.querySelector('.job-name').textContent = name;
  el.querySelector('.job-state').textContent = stateText(job);
  const bar = el.querySelector('.job-progress');
  bar.value = job.progress || 0;
  bar.setAttribute('aria-label', `${isClone ? name : job.filename || 'job'} progress`);
  el.querySelector('.job-cancel').setAttribute('aria-label', `Cancel ${isClone ? name : job.filename}`);
  const again = el.querySelector('.job-again');
  again.hidden = isClone || !['completed', 'failed', 'cancelled'].includes(job.state);
  again.setAttribute('aria-label', `Convert ${job.filename} again`);
  if (job.state === 'completed' && job.resultUrl && !isClone) showResult(el, job);
  // A clone that just finished makes its voice selectable (or shows it failed) in the menu.
  if (isClone && before && !FINAL.has(before.state) && FINAL.has(job.state)) void loadVoices();
  followStatus(job);
}

/** The status lines under the forms follow the job each one started. */
function followStatus(job) {
  if (job.id === followedJob) {
    const text = {
      queued: `${job.filename}: queued.`,
      active: `${job.filename}: ${stateText(job)}.`,
      completed: `${job.filename}: converted; the result is below.`,
      failed: `${job.filename}: ${stateText(job)}`,
      cancelled: `${job.filename}: cancelled.`,
    }[job.state];
    if (text) setStatus(statusEl, text, job.state === 'failed');
  }
  if (job.id === followedClone) {
    const name = voiceNames.get(job.voiceId) || job.filename;
    const text = {
      queued: `Analysing "${name}"…`,
      active: `Analysing "${name}"…`,
      completed: `Voice "${name}" is ready: pick it as the target voice.`,
      failed: `Voice "${name}" failed: ${job.error?.message || 'analysis failed'}`,
      cancelled: `Voice "${name}" was cancelled.`,
    }[job.state];
    if (text) setStatus(cloneStatusEl, text, job.state === 'failed');
  }
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

/** The job's full view (kind, names, a signed result link) when an event names a job the page lacks. */
async function fetchJob(id) {
  const res = await api(`/api/jobs/${encodeURIComponent(id)}`);
  if (!res.ok) return undefined;
  return (await res.json()).job;
}

/** Mirrors applyServerMessage in src/progress/events.ts: a finished job stays finished. */
function applyEvent(msg) {
  if (msg.type === 'snapshot') {
    for (const job of [...msg.jobs].reverse()) {
      const known = jobs.get(job.id);
      if (known && FINAL.has(known.state) && !FINAL.has(job.state)) continue;
      render(known ? { ...known, ...job, resultUrl: known.resultUrl } : job);
    }
    return;
  }
  if (!msg.jobId) return;
  const known = jobs.get(msg.jobId);
  if (known && FINAL.has(known.state)) return;
  if (!known || msg.type === 'completed') {
    // First sight of a job (another tab started it) or its signed result link: ask for the view.
    void fetchJob(msg.jobId).then((job) => {
      const now = jobs.get(msg.jobId);
      if (job && !(now && FINAL.has(now.state) && !FINAL.has(job.state))) render(job);
    });
    if (!known || msg.type === 'completed') return;
  }
  const job = known;
  if (msg.type === 'progress') render({ ...job, state: 'active', progress: msg.progress, stage: msg.stage });
  else if (msg.type === 'stage') render({ ...job, state: 'active', stage: msg.stage });
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
  else setStatus(statusEl, await errorText(res, 'cancelling'), true);
}

/** Makes a finished job's upload the form's source again, for a conversion with other settings. */
async function convertAgain(id) {
  const job = jobs.get(id);
  if (!job) return;
  const res = await api(`/api/uploads/${encodeURIComponent(job.uploadId)}`);
  if (!res.ok) {
    setStatus(statusEl, `${job.filename} is no longer in your workspace; upload it again.`, true);
    return;
  }
  keptUpload = (await res.json()).upload;
  $('#file').value = '';
  showKeptUpload();
  setStatus(statusEl, `${job.filename} is selected again: pick the settings and convert.`);
  $('#convert').scrollIntoView({ block: 'start' });
}

async function createJob(upload) {
  const res = await api('/api/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      uploadId: upload.id,
      pitchSemitones: Number($('#pitch').value) || 0,
      outputFormat: $('#format').value,
      ...($('#voice').value ? { voiceId: $('#voice').value, strength: Number($('#strength').value) } : {}),
    }),
  });
  if (!res.ok) {
    // The upload stays (and is shown) so the next press converts it without uploading it again.
    keptUpload = upload;
    $('#file').value = '';
    showKeptUpload();
    throw new Error(`Conversion refused: ${await errorText(res, 'the conversion request')}`);
  }
  const body = await res.json();
  keptUpload = null;
  showKeptUpload();
  followedJob = body.job.id;
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
  jobElement(body.job.id).scrollIntoView({ block: 'nearest' });
}

$('#convert-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('#file').files[0];
  if (!file && !keptUpload) {
    setStatus(statusEl, 'Choose an audio file first.', true);
    return;
  }
  const button = $('#submit');
  const bar = $('#upload-progress');
  button.disabled = true;
  try {
    // Fresh limits and usage (read without being counted), so a refusal comes before the upload.
    await loadWorkspace();
    let upload = keptUpload;
    if (upload) {
      const refusal = rateRefusal('conversions', 'conversions');
      if (refusal) throw new Error(refusal);
    } else {
      const refusal = refusalBeforeUpload(file);
      if (refusal) throw new Error(refusal);
      setStatus(statusEl, `Uploading ${file.name} (${formatBytes(file.size)})…`);
      bar.hidden = false;
      bar.value = 0;
      const up = await uploadFile(file, (f) => {
        bar.value = f;
        setStatus(statusEl, `Uploading ${file.name}: ${Math.round(f * 100)}%`);
      });
      if (!up.ok)
        throw new Error(up.body?.message || `The upload failed (HTTP ${up.status || 'network error'}).`);
      upload = up.body.upload;
    }
    await createJob(upload);
  } catch (err) {
    setStatus(statusEl, err.message, true);
  } finally {
    bar.hidden = true;
    button.disabled = false;
  }
});

// ---- voices ----

// Voices: the user's clones and the model's presets fill the target-voice menu.
async function loadVoices() {
  const res = await api('/api/voices');
  if (!res.ok) return;
  const { voices, presets } = await res.json();
  const select = $('#voice');
  const chosen = select.value;
  select.replaceChildren(new Option('None: pitch shift only', ''));
  for (const v of voices) {
    voiceNames.set(v.id, v.name);
    const label = v.state === 'ready' ? v.name : `${v.name} (${v.state})`;
    const opt = new Option(label, v.id);
    opt.disabled = v.state !== 'ready';
    select.append(opt);
  }
  for (const p of presets) select.append(new Option(`Preset: ${p.name}`, p.id));
  select.value = chosen;
}

$('#clone-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const file = $('#voice-file').files[0];
  if (!file) return;
  await loadWorkspace();
  const refusal = refusalBeforeUpload(file, 'clone');
  if (refusal) {
    setStatus(cloneStatusEl, refusal, true);
    return;
  }
  const form = new FormData();
  form.append('name', $('#voice-name').value);
  form.append('file', file);
  setStatus(cloneStatusEl, 'Uploading…');
  const res = await api('/api/voices', { method: 'POST', body: form });
  if (!res.ok) {
    setStatus(cloneStatusEl, await errorText(res, 'cloning'), true);
    return;
  }
  const { voice, job } = await res.json();
  voiceNames.set(voice.id, voice.name);
  followedClone = job.id;
  const known = jobs.get(job.id);
  render(known ? { ...job, state: known.state, progress: known.progress } : job);
  await loadVoices();
});

async function loadJobs() {
  const res = await api('/api/jobs');
  if (!res.ok) {
    setStatus(statusEl, await errorText(res, 'loading your jobs'), true);
    return;
  }
  const { jobs: list } = await res.json();
  for (const job of [...list].reverse()) render(job);
}

ensureSession()
  .then(async () => {
    await loadVoices();
    await loadJobs();
    connect();
    await loadWorkspace();
  })
  .catch((err) => setStatus(statusEl, err.message, true));

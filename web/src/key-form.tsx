import { useState } from 'preact/hooks';
import { forgetToken, type KeyNeeded, keyAccepted, storeToken } from './api.js';

/**
 * Where the page takes an API key: shown open, with the reason, when the page needs one (the
 * service accepts keys only, or the stored key was refused); otherwise folded under the header, for
 * a user with a key in a service that also has anonymous workspaces. A key the service takes is
 * stored and the page reloads as its account; one it refuses is said so, and nothing is stored.
 */
export function KeyForm({ needed }: { needed: KeyNeeded | undefined }) {
  const [key, setKey] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const k = key.trim();
    if (!k) return setProblem('Enter an API key first.');
    setBusy(true);
    try {
      if (!(await keyAccepted(k))) return setProblem('That key was refused: check it, or ask for a new one.');
      storeToken(k);
      location.reload();
    } catch {
      setProblem('The service could not be reached; try again.');
    } finally {
      setBusy(false);
    }
  };
  const startAnonymous = () => {
    forgetToken();
    location.reload();
  };

  return (
    <details id="key-form" open={needed !== undefined}>
      <summary>Use an API key</summary>
      {needed && (
        <p id="key-reason" class="error" role="alert">
          {needed.reason}
        </p>
      )}
      <form onSubmit={submit}>
        <label>
          API key{' '}
          <input
            type="password"
            id="api-key"
            autocomplete="off"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
          />
        </label>{' '}
        <button type="submit" id="api-key-submit" disabled={busy}>
          Use this key
        </button>
      </form>
      {problem && (
        <p id="key-problem" class="error" role="alert">
          {problem}
        </p>
      )}
      {needed?.anonymousAllowed && (
        <p>
          <button type="button" id="start-anonymous" onClick={startAnonymous}>
            Start a new anonymous workspace instead
          </button>{' '}
          <span class="hint">(the key's workspace stays where it is; a new key opens it again)</span>
        </p>
      )}
    </details>
  );
}

import { useEffect, useState } from 'preact/hooks';
import { onNewBuild } from './build.js';

/** "A new version is available — reload", once the API answers for another build than this page's. */
export function NewVersion() {
  const [shown, setShown] = useState(false);
  useEffect(() => onNewBuild(() => setShown(true)), []);
  if (!shown) return null;
  return (
    <p id="new-version" class="notice" role="status">
      A new version of vcfarm is available: this page is older than the service, and some of its actions may
      be refused.{' '}
      <button type="button" onClick={() => location.reload()}>
        Reload
      </button>
    </p>
  );
}

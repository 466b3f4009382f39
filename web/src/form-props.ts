import type { Jobs } from './lib/jobs.js';
import type { JobView, Voice, Workspace } from './lib/types.js';

/** What the page gives both of its forms (ConvertForm, CloneForm): one list, passed as one object. */
export interface FormProps {
  jobs: Jobs;
  /** The user's voices as last loaded: a voice renamed since it was cloned shows its new name. */
  voices: Voice[];
  workspace: Workspace | undefined;
  loadWorkspace: () => Promise<Workspace | undefined>;
  put: (job: JobView) => void;
  /** Runs the request that makes a job and puts its answer (the page holds the job's first events meanwhile). */
  whileCreating: <T>(work: () => Promise<T>) => Promise<T>;
}

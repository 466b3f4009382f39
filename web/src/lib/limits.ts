import { formatBytes, formatSeconds, rateText, waitText } from './format.js';
import type { Workspace } from './types.js';

/** The plan's limits as one sentence, shown beside the inputs. */
export function limitsText(ws: Workspace): string {
  const { quota, rateLimits, plan } = ws;
  const rates = [
    rateLimits.conversions && rateText(rateLimits.conversions, 'conversions'),
    rateLimits.uploads && rateText(rateLimits.uploads, 'uploads'),
  ].filter(Boolean);
  return (
    `Your plan (${plan}): files up to ${formatBytes(quota.maxUploadBytes)} and ` +
    `${formatSeconds(quota.maxDurationSec)} long, ${quota.maxQueuedJobs} jobs waiting at most, ` +
    `${rates.join(' and ')}.`
  );
}

/** A rate class with nothing left in its window, as a sentence; undefined while some is left or unknown. */
export function rateRefusal(ws: Workspace | undefined, cls: string, noun: string): string | undefined {
  const r = ws?.rateLimits[cls];
  if (!r || r.remaining === null || r.remaining > 0) return undefined;
  return `You have used your ${rateText(r, noun)}; try again in ${waitText(r.resetInSec ?? r.windowSec)}.`;
}

/**
 * What the API would refuse anyway, said before a file is uploaded (for a conversion or a voice
 * clone); undefined when it may go. Only what the API lets the page know: sizes, quotas, rates.
 */
export function refusalBeforeUpload(
  ws: Workspace | undefined,
  file: { name: string; size: number },
  purpose: 'conversion' | 'clone',
): string | undefined {
  if (!ws) return undefined;
  const rate =
    purpose === 'conversion'
      ? (rateRefusal(ws, 'conversions', 'conversions') ?? rateRefusal(ws, 'uploads', 'uploads'))
      : rateRefusal(ws, 'voiceClones', 'voice clones');
  if (rate) return rate;
  const { quota, usage } = ws;
  if (file.size > quota.maxUploadBytes)
    return `${file.name} is ${formatBytes(file.size)}; your plan accepts files up to ${formatBytes(quota.maxUploadBytes)}.`;
  if (usage.bytes + file.size > quota.maxBytes)
    return `${file.name} does not fit: your workspace holds ${formatBytes(usage.bytes)} of ${formatBytes(quota.maxBytes)}.`;
  if (usage.files >= quota.maxFiles)
    return `Your workspace holds ${usage.files} files, the most your plan allows; delete some first.`;
  if (purpose === 'conversion' && usage.queuedJobs >= quota.maxQueuedJobs)
    return `You already have ${usage.queuedJobs} jobs waiting, the most your plan allows; wait for one to finish.`;
  return undefined;
}

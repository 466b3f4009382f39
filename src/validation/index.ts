// Schema checks said in words: the patterns with their words, and TypeBox's errors as lines.
export { issueLines, typeWords } from './issues.js';
export { PlanName, patterned, patternWords, WorkerId } from './patterned.js';

/** The tag rules live in tasks/lib/base/revisions.ts (shared with the readers of what a host runs). */
export { validateTag } from '../base/revisions.ts';

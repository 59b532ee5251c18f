/** What the work of a deploy or a rollback needs and its preflight does not: loaded by load-work.ts. */
export { backupPlan } from '../backup/dump.ts';
export { pruneAfterRun } from '../backup/prune-after-run.ts';
export { backupRunner, backupStep, connectBackupSession } from './backup-step.ts';
export { deployTasks, rollbackTasks } from './graph.ts';

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // generous: a deploy's end-to-end test takes 5-15 s on an idle 2-core machine, and several times
    // that when the machine is shared; the limit is there to end a hang, not to time anything
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // most tests wait on processes (sshd, services, PostgreSQL): more files at once than cores, but
    // not 4 on 2 cores: 8 of 11 CI runs at 4 had a test whose timing the starved machine broke
    maxWorkers: 3,
  },
});

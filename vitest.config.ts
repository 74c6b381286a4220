import { defineConfig } from 'vitest/config';

// Two projects: fast unit tests colocated with the code, and end-to-end suites that start real
// etcd servers and network namespaces (root only), run one file at a time so they do not fight
// over the two cores.
export default defineConfig({
  test: {
    // e2e suites share the machine's two cores and its kernel; unit files are fast either way.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{core,sys,daemon,ops,subnet-lease,encap,bench,tools}/**/*.test.ts',
            'test/{lab,support}/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});

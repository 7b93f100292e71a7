/* exec_env [-n COUNT] [-s SIZE] PROG [NAME=VALUE...] [-- ARGS...]
 * execve(PROG) with exactly the environment given: duplicates are passed
 * as written (a shell would drop them), then COUNT filler variables
 * KRSI_FILL<i> of SIZE bytes each. argv is PROG followed by ARGS. */
#include "try_report.h"

int main(int argc, char **argv)
{
	long count = 0, size = 8;
	int i = 1, ne = 0, na = 0;
	char **envp, **av;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]) {
		if (argv[i][1] == 'n')
			count = num_arg(argv[i + 1]);
		else if (argv[i][1] == 's')
			size = num_arg(argv[i + 1]);
		else
			break;
		i += 2;
	}
	if (i >= argc || count < 0 || size < 0) {
		fprintf(stderr, "usage: exec_env [-n COUNT] [-s SIZE] PROG [NAME=VALUE...] [-- ARGS...]\n");
		return 2;
	}
	envp = calloc(argc + count + 1, sizeof(*envp));
	av = calloc(argc + 1, sizeof(*av));
	if (!envp || !av)
		return 2;
	av[na++] = argv[i];
	for (int j = i + 1; j < argc; j++) {
		if (!strcmp(argv[j], "--")) {
			for (j++; j < argc; j++)
				av[na++] = argv[j];
			break;
		}
		envp[ne++] = argv[j];
	}
	for (long k = 0; k < count; k++) {
		char *v = malloc(size + 32);

		if (!v)
			return 2;
		int n = snprintf(v, 32, "KRSI_FILL%ld=", k);
		memset(v + n, 'x', size);
		v[n + size] = 0;
		envp[ne++] = v;
	}
	execve(argv[i], av, envp);
	fail_errno(argv[i]);
}

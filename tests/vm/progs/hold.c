/* hold: stays alive until a signal with a default action ends it; a target
 * for ptrace and signal scenarios. Prints "ready pid=N" once its handlers
 * are installed, then "signal N" for each SIGHUP, SIGINT, SIGUSR1 or SIGUSR2
 * delivered to it, so a script can tell a signal arrived. SIGTERM and
 * SIGKILL keep their default action (the process dies). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void on_signal(int sig)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "signal %d\n", sig);

	/* write(2) is async-signal-safe; stdout may be a file the script polls. */
	if (write(1, buf, n) < 0)
		_exit(3);
}

int main(void)
{
	static const int caught[] = { SIGHUP, SIGINT, SIGUSR1, SIGUSR2 };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (unsigned i = 0; i < sizeof(caught) / sizeof(caught[0]); i++)
		sigaction(caught[i], &sa, NULL);
	printf("ready pid=%d\n", getpid());
	fflush(stdout);
	for (;;)
		pause();
}

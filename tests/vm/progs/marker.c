/* marker FILE: creates FILE as the first thing main does, then exits 0.
 * A process killed before its first user instruction leaves no FILE. */
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 1)
		close(open(argv[1], O_WRONLY | O_CREAT, 0644));
	return 0;
}

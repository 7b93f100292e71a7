/* Smallest useful exec target: exits 0. Static, so exec latency measures the
 * kernel's execve path (and any LSM hooks on it), not the dynamic loader. */
int main(void)
{
	return 0;
}
